/**
 * The report and finance repositories answer the same on PostgreSQL as on SQLite: the same scripted
 * keys, tasks (across a UTC midnight and a month end, failovers, settlements, fails and cancels),
 * attempts and ledger lines go into a SQLite file and a fresh PostgreSQL database; then every method
 * of the spend, admin-tasks, reconciliation and ops repositories, and the report runners' JSON and
 * CSV, must answer identically, for the ranges and groupings `/admin/spend`, `/v1/usage`,
 * `/admin/tasks` and `/admin/reconciliation` use. The spend rollup on each side is kept by that
 * engine's own triggers, so this also holds the two trigger sets together.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDb, type DbHandle } from '../../src/db/client.ts';
import * as sqliteSchema from '../../src/db/schema/index.ts';
import * as pgSchema from '../../src/db/postgres/schema/index.ts';
import { openPool, poolSql } from '../../src/db/postgres/client.ts';
import { createTestDatabase } from '../helpers/postgres-server.ts';
import { spendRepo, SPEND_DIMENSIONS, type SpendDimension, type SpendRange } from '../../src/db/repos/spend.ts';
import { adminTasksRepo, type AdminTaskFilter } from '../../src/db/repos/admin-tasks.ts';
import { reconciliationRepo } from '../../src/db/repos/reconciliation.ts';
import { opsRepo } from '../../src/db/repos/ops.ts';
import { pgSpendRepo } from '../../src/db/postgres/repos/spend.ts';
import { pgAdminTasksRepo } from '../../src/db/postgres/repos/admin-tasks.ts';
import { pgReconciliationRepo } from '../../src/db/postgres/repos/reconciliation.ts';
import { pgOpsRepo } from '../../src/db/postgres/repos/ops.ts';
import { reportRunner, type ReportRunner } from '../../src/reports/runner.ts';
import { pgReportRunner } from '../../src/reports/pg-runner.ts';
import type { Audience } from '../../src/reports/render.ts';
import { buildFixture, JAN_31, PROVIDERS, type Fixture } from './pg-reports-fixture.ts';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'reelroute-pg-reports-'));
const fx: Fixture = buildFixture();

let lite: DbHandle;
let pool: ReturnType<typeof openPool>;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let sqlite: { spend: ReturnType<typeof spendRepo>; adminTasks: ReturnType<typeof adminTasksRepo>; reconciliation: ReturnType<typeof reconciliationRepo>; ops: ReturnType<typeof opsRepo> };
let pg: { spend: ReturnType<typeof pgSpendRepo>; adminTasks: ReturnType<typeof pgAdminTasksRepo>; reconciliation: ReturnType<typeof pgReconciliationRepo>; ops: ReturnType<typeof pgOpsRepo> };
let runners: { sqlite: ReportRunner; pg: ReportRunner };
/** The ops gauges before any data. */
let empty: { inFlight: unknown[]; oldest: number | null; sqliteOldest: number | null };

/** Write the fixture through each engine's drizzle schema: the same rows, then the same task updates one by one. */
async function load(): Promise<void> {
  const l = lite.db;
  lite.sqlite.transaction(() => {
    l.insert(sqliteSchema.apiKeys).values(fx.keys).run();
    for (let i = 0; i < fx.tasks.length; i += 100) l.insert(sqliteSchema.tasks).values(fx.tasks.slice(i, i + 100)).run();
    l.insert(sqliteSchema.attempts).values(fx.attempts).run();
    l.insert(sqliteSchema.ledgerEntries).values(fx.ledger).run();
    for (const [id, patch] of fx.updates) l.update(sqliteSchema.tasks).set(patch).where(eq(sqliteSchema.tasks.id, id)).run();
  })();
  const client = await pool.connect();
  try {
    const p = drizzlePg(client, { schema: pgSchema });
    await p.transaction(async (tx) => {
      await tx.insert(pgSchema.apiKeys).values(fx.keys);
      for (let i = 0; i < fx.tasks.length; i += 100) await tx.insert(pgSchema.tasks).values(fx.tasks.slice(i, i + 100));
      await tx.insert(pgSchema.attempts).values(fx.attempts);
      await tx.insert(pgSchema.ledgerEntries).values(fx.ledger);
      for (const [id, patch] of fx.updates) await tx.update(pgSchema.tasks).set(patch).where(eq(pgSchema.tasks.id, id));
    });
  } finally {
    client.release();
  }
}

beforeAll(async () => {
  lite = openDb(join(dir, 'parity.db'));
  // A fresh database cloned from the migrated template (with the PostgreSQL rollup triggers).
  database = await createTestDatabase(inject('pgUrl'));
  pool = openPool(database.url);
  sqlite = { spend: spendRepo(lite.sqlite), adminTasks: adminTasksRepo(lite.sqlite), reconciliation: reconciliationRepo(lite.sqlite), ops: opsRepo(lite.sqlite) };
  const sql = poolSql(pool);
  pg = { spend: pgSpendRepo(sql), adminTasks: pgAdminTasksRepo(sql), reconciliation: pgReconciliationRepo(sql), ops: pgOpsRepo(sql) };
  runners = { sqlite: reportRunner(join(dir, 'parity.db'), sqlite.spend), pg: pgReportRunner(pg.spend) };
  empty = { inFlight: await pg.ops.inFlightByProvider(), oldest: await pg.ops.oldestScheduledPoll(), sqliteOldest: sqlite.ops.oldestScheduledPoll() };
  await load();
});

afterAll(async () => {
  await runners?.sqlite.close();
  await runners?.pg.close();
  await pool?.end();
  await database?.drop();
  lite?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every ordered subset of the dimensions (65 groupings, as `group_by` may name them in any order). */
function orderedSubsets(): SpendDimension[][] {
  const out: SpendDimension[][] = [[]];
  for (let i = 0; i < out.length; i++) for (const d of SPEND_DIMENSIONS) if (!out[i]!.includes(d)) out.push([...out[i]!, d]);
  return out;
}

/** Day ranges as `/admin/spend` parses them: both ends inclusive, a midnight and the month end on edges. */
const DAY_RANGES: [string, string][] = [
  ['2026-01-29', '2026-02-03'],
  ['2026-01-30', '2026-01-30'],
  ['2026-01-31', '2026-01-31'],
  ['2026-02-01', '2026-02-01'],
  ['2026-01-01', '2026-01-31'],
  ['2026-02-01', '2026-02-28'],
  ['2026-03-01', '2026-03-31'],
];
const msOf = (day: string) => Date.parse(`${day}T00:00:00Z`);

const text = (s: ReadableStream<Uint8Array>) => new Response(s).text();

describe('PostgreSQL report and finance repositories answer as SQLite does', () => {
  it('ops on empty databases: nothing in flight, no poll scheduled', () => {
    expect(empty).toStrictEqual({ inFlight: [], oldest: null, sqliteOldest: null });
  });

  it('spend reports: every grouping, range and key filter', async () => {
    let nonEmpty = 0;
    const keyIds = [undefined, ...fx.keys.map((k) => k.id), 'key_unknown'];
    for (const [from, to] of DAY_RANGES) {
      for (const keyId of keyIds) {
        const range: SpendRange = keyId === undefined ? { from, to } : { from, to, keyId };
        // All 65 groupings without a key filter; with one (a client's usage), a few.
        const groupings: SpendDimension[][] = keyId === undefined ? orderedSubsets() : [[], ['day'], ['model', 'provider'], ['provider', 'key', 'day', 'model']];
        for (const groupBy of groupings) {
          const want = sqlite.spend.report(range, groupBy);
          expect(await pg.spend.report(range, groupBy), `${from}..${to} ${keyId ?? ''} [${groupBy}]`).toStrictEqual(want);
          if (want.rows.length) nonEmpty++;
        }
      }
    }
    expect(nonEmpty).toBeGreaterThan(200);
    // The fixture reaches what it means to: both midnights, big sums, null providers, a zero-sum group hidden.
    const byDay = sqlite.spend.report({ from: '2026-01-29', to: '2026-02-03' }, ['day']).rows.map((r) => r.day);
    expect(byDay).toEqual(expect.arrayContaining(['2026-01-30', '2026-01-31', '2026-02-01']));
    const totals = sqlite.spend.report({ from: '2026-01-29', to: '2026-02-03' }, []).totals;
    expect(totals.reservedMicros).toBeGreaterThan(2 ** 32);
    expect(totals.tasks).toBe(fx.tasks.length);
    expect(sqlite.spend.report({ from: '2026-01-29', to: '2026-02-03' }, ['provider']).rows[0]!.provider).toBeNull();
  });

  it('report runners: JSON and CSV byte for byte, admin and client', async () => {
    const groupings: SpendDimension[][] = [[], ['day'], ['key'], ['provider', 'model'], ['key', 'day', 'provider', 'model']];
    for (const [from, to] of [DAY_RANGES[0]!, DAY_RANGES[2]!, DAY_RANGES[6]!]) {
      for (const audience of ['admin', 'client'] as Audience[]) {
        const range: SpendRange = audience === 'admin' ? { from, to } : { from, to, keyId: fx.keys[0]!.id };
        for (const groupBy of groupings) {
          const job = { range, audience, head: { object: audience === 'admin' ? 'spend_report' : 'usage_report', from, to, groupBy } };
          const json = await runners.sqlite.json(job);
          expect(await runners.pg.json(job)).toBe(json);
          const csv = await text(runners.sqlite.csv(job));
          expect(await text(runners.pg.csv(job))).toBe(csv);
          expect(csv.split('\r\n').length).toBe(JSON.parse(json).data.length + 3);
        }
      }
    }
    // Names that need quoting and the formula guard went through the CSV.
    const csv = await text(runners.pg.csv({ range: { from: '2026-01-29', to: '2026-02-03' }, audience: 'admin', head: { object: 'spend_report', from: '', to: '', groupBy: ['key'] } }));
    expect(csv).toContain('"Zed, ""inc"""');
    expect(csv).toContain("'=SUM(A1)");
  });

  it('a failing report query errors the CSV stream and rejects the JSON', async () => {
    const broken = pgReportRunner(pgSpendRepo({ rows: () => Promise.reject(new Error('db down')), row: () => Promise.reject(new Error('db down')), exec: () => Promise.reject(new Error('db down')) }));
    const job = { range: { from: '2026-01-01', to: '2026-01-31' }, audience: 'admin' as const, head: { object: 'spend_report', from: '', to: '', groupBy: ['day'] as SpendDimension[] } };
    await expect(broken.json(job)).rejects.toThrow('db down');
    await expect(text(broken.csv(job))).rejects.toThrow('db down');
    await broken.close();
  });

  it('admin task pages: every filter combination, paged to the end', async () => {
    const sample = fx.tasks.find((t) => t.provider === 'fal')!;
    const values: Required<AdminTaskFilter> = { keyId: sample.keyId, status: 'completed', provider: 'fal', model: sample.model };
    const names = Object.keys(values) as (keyof AdminTaskFilter)[];
    let seen = 0;
    for (let mask = 0; mask < 16; mask++) {
      const filter: AdminTaskFilter = {};
      names.forEach((n, i) => {
        if (mask & (1 << i)) filter[n] = values[n];
      });
      let after: string | undefined;
      for (;;) {
        const want = sqlite.adminTasks.list(filter, 25, after);
        expect(await pg.adminTasks.list(filter, 25, after), `${JSON.stringify(filter)} after ${after}`).toStrictEqual(want);
        seen += want.length;
        if (want.length < 25) break;
        after = want.at(-1)!.id;
      }
    }
    expect(seen).toBeGreaterThan(fx.tasks.length);
    // Cursors that are no task's id, in byte order (upper case sorts before lower case).
    // A NUL cannot be sent to PostgreSQL: the repository must answer as SQLite's byte-wise compare does.
    const mid = fx.tasks[fx.tasks.length >> 1]!.id;
    for (const after of ['task_', 'TASK', 'task_zzzz', '~', '', '\0', `${mid}\0`, `${mid.slice(0, 12)}\0zz`]) {
      expect(await pg.adminTasks.list({}, 3, after), after).toStrictEqual(sqlite.adminTasks.list({}, 3, after));
    }
    expect(await pg.adminTasks.list({ provider: 'nobody' }, 5)).toStrictEqual([]);
    expect(await pg.adminTasks.list({ provider: 'fal\0', status: 'completed' }, 5)).toStrictEqual(sqlite.adminTasks.list({ provider: 'fal\0', status: 'completed' }, 5));
    // A task row carries real booleans and numbers on both.
    const [row] = await pg.adminTasks.list({}, 1);
    expect(typeof row!.listPriced).toBe('boolean');
    expect(typeof row!.reservedMicros).toBe('number');
  });

  it('admin task ledger lines: every task', async () => {
    for (const t of fx.tasks) expect(await pg.adminTasks.ledger(t.id), t.id).toStrictEqual(sqlite.adminTasks.ledger(t.id));
    expect(await pg.adminTasks.ledger('task_unknown')).toStrictEqual([]);
  });

  it('reconciliation: attempts per provider and range, and by upstream id', async () => {
    const ranges: [number, number][] = [
      [msOf('2026-01-29'), msOf('2026-02-04')],
      [JAN_31, JAN_31 + DAY],
      [JAN_31 + DAY, JAN_31 + 29 * DAY],
      [msOf('2026-03-01'), msOf('2026-04-01')],
    ];
    const byId = (a: { attemptId: string }, b: { attemptId: string }) => (a.attemptId < b.attemptId ? -1 : 1);
    let total = 0;
    for (const provider of [...PROVIDERS.filter((p) => p !== null), 'nobody']) {
      for (const [fromMs, toMs] of ranges) {
        const want = sqlite.reconciliation.attempts(provider, fromMs, toMs);
        expect(await pg.reconciliation.attempts(provider, fromMs, toMs), `${provider} ${fromMs}`).toStrictEqual(want);
        total += want.length;
      }
      const ids = fx.attempts.filter((a) => a.providerId === provider && a.upstreamId !== null).map((a) => a.upstreamId!);
      const asked = [...ids, 'not-ours', '', 'NULL', '{a,"b"}', 'x\0y', `${ids[0] ?? ''}\0`, ...fx.attempts.filter((a) => a.providerId !== provider && a.upstreamId).map((a) => a.upstreamId!).slice(0, 3)];
      // SQLite answers these in no set order: compared as sets.
      const want = sqlite.reconciliation.byUpstreamIds(provider, asked).sort(byId);
      expect((await pg.reconciliation.byUpstreamIds(provider, asked)).sort(byId)).toStrictEqual(want);
      expect(want.length).toBe(ids.length);
      expect(await pg.reconciliation.byUpstreamIds(provider, [])).toStrictEqual([]);
    }
    expect(total).toBeGreaterThan(fx.attempts.length);
    expect(sqlite.reconciliation.byUpstreamIds('kie', [`kie-"q",{x}\\y NULL 'z'`])).toHaveLength(1);
    // Every cost rule was met: completed (upstream cost), unknown and submitting (the quote), failed and cancelled (0).
    const statuses = new Set(PROVIDERS.flatMap((p) => (p ? sqlite.reconciliation.attempts(p, ranges[0]![0], ranges[0]![1]) : [])).map((a) => a.status));
    expect([...statuses].sort()).toEqual(expect.arrayContaining(['cancelled', 'completed', 'failed', 'processing', 'submitting', 'unknown']));
  });

  it('ops gauges: in flight per provider and the oldest scheduled poll', async () => {
    expect(await pg.ops.inFlightByProvider()).toStrictEqual(sqlite.ops.inFlightByProvider());
    expect(await pg.ops.oldestScheduledPoll()).toBe(sqlite.ops.oldestScheduledPoll());
    // Tasks waiting for a provider count under ''.
    expect(sqlite.ops.inFlightByProvider().map((r) => r.provider)).toEqual(expect.arrayContaining(['', 'fal', 'kie']));
  });
});
