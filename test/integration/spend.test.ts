/** GET /admin/spend: sums per day/key/model/provider over two days of tasks, JSON and CSV. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';
import { microsToUsd } from '../../src/pricing/money.ts';
import type { TaskRow } from '../../src/db/schema/index.ts';
import Database from 'better-sqlite3';
import { openDb } from '../../src/db/client.ts';
import { apiKeys, tasks } from '../../src/db/schema/index.ts';
import { plainSpendSql, SPEND_DIMENSIONS, type SpendDimension } from '../../src/db/repos/spend.ts';

const DAY_MS = 86_400_000;
const METRICS = ['tasks', 'completed', 'failed', 'cancelled', 'billable_units', 'reserved_usd', 'charged_usd', 'refunded_usd', 'upstream_cost_usd', 'margin_usd'] as const;
/** A key name a spreadsheet would run as a formula, with a comma and quotes to escape. */
const EVIL_NAME = '=HYPERLINK("http://x"), inc';

let gw: Gateway;
let alpha: { id: string; key: string };
let evil: { id: string; key: string };
let day1 = '';
let day2 = '';
let day3 = '';

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const admin = (query: string) => gw.call('GET', `/admin/spend${query}`, { key: ADMIN_KEY });

/** What the report must say for these tasks, computed here from the rows (not through SQL). */
function expected(tasks: TaskRow[]) {
  const sum = (f: (t: TaskRow) => number) => tasks.reduce((s, t) => s + f(t), 0);
  return {
    tasks: tasks.length,
    completed: tasks.filter((t) => t.status === 'completed').length,
    failed: tasks.filter((t) => t.status === 'failed').length,
    cancelled: tasks.filter((t) => t.status === 'cancelled').length,
    billable_units: sum((t) => t.billableUnits),
    reserved_usd: microsToUsd(sum((t) => t.reservedMicros)),
    charged_usd: microsToUsd(sum((t) => t.chargedMicros)),
    refunded_usd: microsToUsd(sum((t) => t.refundedMicros)),
    upstream_cost_usd: microsToUsd(sum((t) => t.upstreamCostMicros)),
    margin_usd: microsToUsd(sum((t) => t.chargedMicros - t.upstreamCostMicros)),
  };
}

const inRange = async (from: string, to: string) => (await gw.store.tasks.all()).filter((t) => isoDay(t.createdAt) >= from && isoDay(t.createdAt) <= to);
const metricsOf = (row: Record<string, unknown>) => Object.fromEntries(METRICS.map((m) => [m, row[m]]));
/** Sums rows in micro-USD (exact), back to the API's shape. */
function sumRows(rows: Record<string, number>[]) {
  const out: Record<string, number> = {};
  for (const m of METRICS) {
    const total = rows.reduce((s, r) => s + (m.endsWith('_usd') ? Math.round(r[m]! * 1e6) : r[m]!), 0);
    out[m] = m.endsWith('_usd') ? microsToUsd(total) : total;
  }
  return out;
}

/** A minimal RFC 4180 parser: quoted fields, doubled quotes, commas and line breaks inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

/** Create a task for `key`; returns a function that runs the clock until it ends. */
async function create(key: string, seconds: number): Promise<{ id: string; settle: () => Promise<{ status: string }> }> {
  const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(seconds), key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { id: res.body.id, settle: () => gw.settle(res.body.id, key) };
}

beforeAll(async () => {
  gw = await startGateway({
    providers: [
      { id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } },
      { id: 'rep-main', type: 'replicate', price: { '720p': 0.2, '1080p': 0.3 } },
    ],
  });
  alpha = await gw.createKey({ name: 'alpha' });
  evil = await gw.createKey({ name: EVIL_NAME, balance_usd: 100 });
  // 01:00 UTC of the next day, so no task of a "day" straddles midnight while the clock runs.
  gw.advance(DAY_MS - (gw.now() % DAY_MS) + 3_600_000);
  const fal = gw.emulators['fal-main']!.state;
  const rep = gw.emulators['rep-main']!.state;

  // Day 1: three tasks that complete (one after failing over from fal to rep).
  day1 = isoDay(gw.now());
  const ids1 = [await create(alpha.key, 5), await create(alpha.key, 6)];
  fal.fates.push({ outcome: 'fail', providerSide: true });
  ids1.push(await create(evil.key, 5));
  for (const t of ids1) expect((await t.settle()).status).toBe('completed');

  // Day 2: one fails everywhere, one is cancelled, one completes.
  gw.advance(DAY_MS);
  day2 = isoDay(gw.now());
  fal.fates.push({ outcome: 'fail', providerSide: true });
  rep.fates.push({ outcome: 'fail', providerSide: true });
  const failing = await create(evil.key, 5);
  const cancelled = await create(alpha.key, 5);
  expect((await gw.call('POST', `/v1/tasks/${cancelled.id}/cancel`, { key: alpha.key })).status).toBe(200);
  const completing = await create(evil.key, 4);
  expect((await failing.settle()).status).toBe('failed');
  expect((await completing.settle()).status).toBe('completed');

  // Day 3 (outside the reported range): one more task.
  gw.advance(DAY_MS);
  day3 = isoDay(gw.now());
  expect((await (await create(alpha.key, 3)).settle()).status).toBe('completed');
});

afterAll(async () => {
  if (!gw) return;
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

/**
 * A SQLite connection on the gateway's rows for the plain GROUP BY: its own file, or on PostgreSQL
 * a copy of the keys and tasks in memory (the same rows, so the same plain answer).
 */
async function plainDb(): Promise<Database.Database> {
  if (gw.store.engine === 'sqlite') return new Database(gw.dbPath, { readonly: true });
  const { db, sqlite } = openDb(':memory:');
  db.insert(apiKeys).values(await gw.store.keys.list()).run();
  for (const t of await gw.store.tasks.all()) db.insert(tasks).values(t).run();
  return sqlite;
}

describe('GET /admin/spend', () => {
  it('the scenario ended as planned', async () => {
    const all = await gw.store.tasks.all();
    const byStatus = (status: string) => all.filter((t) => t.status === status).length;
    expect([byStatus('completed'), byStatus('failed'), byStatus('cancelled')]).toEqual([5, 1, 1]);
  });

  it('totals only: data is empty and totals match the tasks of the range', async () => {
    const res = await admin(`?from=${day1}&to=${day2}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ object: 'spend_report', from: day1, to: day2, group_by: [], data: [] });
    expect(res.body.totals).toEqual(expected(await inRange(day1, day2)));
    expect(res.body.totals).toMatchObject({ tasks: 6, completed: 4, failed: 1, cancelled: 1 });
    // Every task of the range ended: what was held was charged or refunded, to the micro.
    const t = res.body.totals;
    expect(Math.round(t.charged_usd * 1e6) + Math.round(t.refunded_usd * 1e6)).toBe(Math.round(t.reserved_usd * 1e6));
    expect(t.charged_usd).toBeGreaterThan(0);
    expect(t.refunded_usd).toBeGreaterThan(0);
  });

  it('per day: one row per UTC day, totals are the sum of the rows', async () => {
    const res = await admin(`?from=${day1}&to=${day2}&group_by=day`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { day: string }) => r.day)).toEqual([day1, day2]);
    for (const row of res.body.data) {
      expect(Object.keys(row)).toEqual(['day', ...METRICS]);
      expect(metricsOf(row)).toEqual(expected(await inRange(row.day, row.day)));
    }
    expect(res.body.data[0]).toMatchObject({ tasks: 3, completed: 3, failed: 0, cancelled: 0 });
    expect(res.body.data[1]).toMatchObject({ tasks: 3, completed: 1, failed: 1, cancelled: 1 });
    expect(res.body.totals).toEqual(sumRows(res.body.data));
    expect(res.body.totals).toEqual((await admin(`?from=${day1}&to=${day2}`)).body.totals);
    // The range is inclusive at both ends and selects by creation day.
    const one = await admin(`?from=${day2}&to=${day2}&group_by=day`);
    expect(one.body.data.map((r: { day: string }) => r.day)).toEqual([day2]);
    const three = await admin(`?from=${day1}&to=${day3}&group_by=day`);
    expect(three.body.data.map((r: { day: string }) => r.day)).toEqual([day1, day2, day3]);
  });

  it('per key: key id and name, ordered by name', async () => {
    const res = await admin(`?from=${day1}&to=${day2}&group_by=key`);
    expect(res.body.data.map((r: { key_name: string }) => r.key_name)).toEqual([EVIL_NAME, 'alpha']);
    const [e, a] = res.body.data;
    expect(e).toMatchObject({ key_id: evil.id, tasks: 3, completed: 2, failed: 1, cancelled: 0 });
    expect(a).toMatchObject({ key_id: alpha.id, tasks: 3, completed: 2, failed: 0, cancelled: 1 });
    for (const row of res.body.data) {
      expect(metricsOf(row)).toEqual(expected((await inRange(day1, day2)).filter((t) => t.keyId === row.key_id)));
    }
    expect(res.body.totals).toEqual(sumRows(res.body.data));
  });

  it('several dimensions keep the order given, in fields and in sort', async () => {
    const res = await admin(`?from=${day1}&to=${day2}&group_by=provider,day,model,key`);
    expect(res.body.group_by).toEqual(['provider', 'day', 'model', 'key']);
    expect(Object.keys(res.body.data[0])).toEqual(['provider', 'day', 'model', 'key_id', 'key_name', ...METRICS]);
    const tasks = await inRange(day1, day2);
    const groups = new Set(tasks.map((t) => JSON.stringify([t.provider, isoDay(t.createdAt), t.model, t.keyId])));
    expect(res.body.data).toHaveLength(groups.size);
    for (const row of res.body.data) {
      const mine = tasks.filter((t) => t.provider === row.provider && isoDay(t.createdAt) === row.day && t.model === row.model && t.keyId === row.key_id);
      expect(metricsOf(row)).toEqual(expected(mine));
    }
    const sortKeys = res.body.data.map((r: { provider: string; day: string }) => `${r.provider}|${r.day}`);
    expect(sortKeys).toEqual([...sortKeys].sort());
    expect(new Set(res.body.data.map((r: { provider: string }) => r.provider))).toEqual(new Set(['fal-main', 'rep-main']));
    expect(res.body.totals).toEqual(sumRows(res.body.data));
  });

  it('CSV parses back to the same numbers, escaped and formula-safe', async () => {
    const query = `?from=${day1}&to=${day2}&group_by=key,day`;
    const json = (await admin(query)).body;
    const res = await admin(`${query}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="spend_${day1}_${day2}.csv"`);
    const text = res.body as string;
    expect(text).toContain(`"'=HYPERLINK(""http://x""), inc"`);
    const [header, ...lines] = parseCsv(text);
    expect(header).toEqual(['key_id', 'key_name', 'day', ...METRICS]);
    const total = lines.pop()!;
    expect(lines).toHaveLength(json.data.length);
    lines.forEach((line, i) => {
      const row = json.data[i];
      expect(line.slice(0, 3)).toEqual([row.key_id, row.key_name === EVIL_NAME ? `'${EVIL_NAME}` : row.key_name, row.day]);
      expect(line.slice(3).map(Number)).toEqual(METRICS.map((m) => row[m]));
    });
    expect(total.slice(0, 3)).toEqual(['total', '', '']);
    expect(total.slice(3).map(Number)).toEqual(METRICS.map((m) => json.totals[m]));
  });

  it('CSV without group_by is a single total line', async () => {
    const res = await admin(`?from=${day1}&to=${day2}&format=csv`);
    const [header, total, ...rest] = parseCsv(res.body as string);
    expect(header).toEqual(['group', ...METRICS]);
    expect(rest).toEqual([]);
    expect(total![0]).toBe('total');
    const want = expected(await inRange(day1, day2));
    expect(total!.slice(1).map(Number)).toEqual(METRICS.map((m) => want[m]));
  });

  it('defaults: to = today (UTC), from = the first of its month', async () => {
    const res = await admin('');
    expect(res.status).toBe(200);
    const from = `${day3.slice(0, 8)}01`;
    expect(res.body).toMatchObject({ from, to: day3, group_by: [] });
    expect(res.body.totals).toEqual(expected(await inRange(from, day3)));
    const onlyTo = await admin(`?to=${day2}`);
    expect(onlyTo.body).toMatchObject({ from: `${day2.slice(0, 8)}01`, to: day2 });
  });

  it('an empty range answers zeros', async () => {
    const res = await admin('?from=2020-01-01&to=2020-01-31&group_by=day');
    expect(res.body.data).toEqual([]);
    expect(res.body.totals).toEqual(Object.fromEntries(METRICS.map((m) => [m, 0])));
  });

  it('bad parameters are a 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['?from=2026-13-01', 'from'],
      ['?from=2026-02-30&to=2026-03-01', 'from'],
      ['?from=2026-1-01&to=2026-03-01', 'from'],
      ['?to=20261130', 'to'],
      ['?to=0050-01-01', 'to'],
      ['?from=2026-11-30&to=2026-11-01', 'to'],
      ['?from=2025-01-01&to=2026-01-02', 'to'], // 367 days
      ['?group_by=day,color', 'group_by'],
      ['?group_by=day,day', 'group_by'],
      ['?group_by=day,,key', 'group_by'],
      ["?group_by=day%3B%20DROP%20TABLE%20tasks", 'group_by'],
      ['?format=xml', 'format'],
    ];
    for (const [query, param] of cases) {
      const res = await admin(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error, query).toMatchObject({ code: 'invalid_parameter', type: 'invalid_request_error', param });
    }
    // 366 days (a leap year) is the longest range.
    expect((await admin('?from=2024-01-01&to=2024-12-31')).status).toBe(200);
  });

  it('the rollup answers exactly what a plain GROUP BY over the tasks says, for every grouping', async () => {
    const db = await plainDb();
    try {
      // Every ordered grouping of up to two dimensions, and all four.
      const groupings: SpendDimension[][] = [[], ...SPEND_DIMENSIONS.map((d) => [d]), ...SPEND_DIMENSIONS.flatMap((a) => SPEND_DIMENSIONS.filter((b) => b !== a).map((b) => [a, b])), [...SPEND_DIMENSIONS]];
      const fromMs = Date.parse(`${day1}T00:00:00Z`);
      const toMs = Date.parse(`${day3}T00:00:00Z`) + DAY_MS;
      for (const g of groupings) {
        const plain = db.prepare(plainSpendSql(g)).all(fromMs, toMs) as Record<string, number>[];
        const res = await admin(`?from=${day1}&to=${day3}&group_by=${g.join(',')}`);
        const rows = g.length ? res.body.data : [res.body.totals];
        expect(rows.length, g.join(',')).toBe(plain.length);
        rows.forEach((row: Record<string, number>, i: number) => {
          const p = plain[i]!;
          expect([row.tasks, row.completed, row.failed, row.cancelled, row.billable_units], g.join(',')).toEqual([p.tasks, p.completed, p.failed, p.cancelled, p.billableUnits]);
          expect([row.reserved_usd, row.charged_usd, row.refunded_usd, row.upstream_cost_usd]).toEqual(
            [p.reservedMicros, p.chargedMicros, p.refundedMicros, p.upstreamCostMicros].map((m) => microsToUsd(m!)),
          );
        });
      }
    } finally {
      db.close();
    }
  });

  it('client keys get 403, no key 401', async () => {
    const client = await gw.call('GET', `/admin/spend?from=${day1}&to=${day2}`, { key: alpha.key });
    expect(client.status).toBe(403);
    expect(client.body.error.code).toBe('permission_denied');
    expect((await gw.call('GET', '/admin/spend', { key: null })).status).toBe(401);
  });
});
