/**
 * A scripted month of mixed tasks — completed, failed everywhere, cancelled, failed over, a
 * credit-priced provider (kie), list prices, a create whose answer was lost, a task created before
 * UTC midnight and settled after it — where `/admin/spend` (JSON and CSV), `/v1/usage`, the ledger
 * and each emulator's own statement (reconciled through `POST /admin/reconciliation`) agree exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';
import { microsToDecimal } from '../../src/http/csv.ts';

const DAY_MS = 86_400_000;
const PROVIDERS = ['fal-1', 'kie-1', 'rep-1'] as const;
let gw: Gateway;
let a: { id: string; key: string };
let b: { id: string; key: string };
let from = '';
let to = '';
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const micros = (usd: number) => Math.round(usd * 1e6);
const admin = (method: string, path: string, extra: { raw?: string; headers?: Record<string, string> } = {}) => gw.call(method, path, { key: ADMIN_KEY, ...extra });

async function run(key: string, seconds: number): Promise<any> {
  const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(seconds), key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** The emulator's bill for the range, as the provider would send it. */
async function statementOf(provider: string): Promise<string> {
  const res = await fetch(`${gw.emulators[provider]!.url}/__emulator/statement?from=${from}&to=${to}`);
  expect(res.status).toBe(200);
  return res.text();
}

async function reconcile(provider: string, csv: string, amountColumn?: string) {
  const q = `provider=${provider}&from=${from}&to=${to}${amountColumn ? `&amount_column=${amountColumn}` : ''}`;
  return admin('POST', `/admin/reconciliation?${q}`, { raw: csv, headers: { 'content-type': 'text/csv' } });
}

beforeAll(async () => {
  gw = await startGateway({
    providers: [
      // The providers' own prices (PROVIDERS.md), so what we record is what they bill.
      { id: 'fal-1', type: 'fal', priority: 0, price: { '720p': 0.126, '1080p': 0.168 } },
      { id: 'kie-1', type: 'kie', priority: 1, priceSpec: { per_second: { '720p': 11, '1080p': 18 }, credit_usd: 0.005 } },
      { id: 'rep-1', type: 'replicate', priority: 2, price: { '720p': 0.07, '1080p': 0.12 } },
    ],
    config: { billing: { models: { 'kling-v3-motion-control': { per_second: { '720p': 0.15, '1080p': 0.3 } } } } },
  });
  a = await gw.createKey({ name: 'studio-a', balance_usd: 50 });
  b = await gw.createKey({ name: '=cmd|studio-b' });
  const fal = gw.emulators['fal-1']!.state;
  const kie = gw.emulators['kie-1']!.state;
  const rep = gw.emulators['rep-1']!.state;
  // The 1st of next month, 01:00 UTC.
  const d = new Date(gw.now());
  gw.advance(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1, 1) - gw.now());
  from = isoDay(gw.now());

  // Day 1: a plain completion on fal; a create refused by fal (503) that fails over to kie (credits).
  await gw.settle((await run(a.key, 5)).id, a.key);
  fal.submitFaults.push({ kind: 'status', status: 503 });
  await gw.settle((await run(b.key, 6)).id, b.key);

  // Day 2: fails provider-side everywhere (refunded in full); one cancelled by its client.
  gw.advance(DAY_MS);
  fal.fates.push({ outcome: 'fail', providerSide: true });
  kie.fates.push({ outcome: 'fail', providerSide: true });
  rep.fates.push({ outcome: 'fail', providerSide: true });
  expect((await gw.settle((await run(a.key, 4)).id, a.key)).status).toBe('failed');
  const cancelled = await run(b.key, 5);
  expect((await gw.call('POST', `/v1/tasks/${cancelled.id}/cancel`, { key: b.key })).status).toBe(200);

  // Day 3: fal takes the create but the answer is lost (outcome unknown; fal still runs and bills
  // it), kie refuses with 503, replicate completes.
  gw.advance(DAY_MS);
  fal.submitFaults.push({ kind: 'accept_then_reset' });
  kie.submitFaults.push({ kind: 'status', status: 503 });
  expect((await gw.settle((await run(a.key, 5)).id, a.key)).status).toBe('completed');

  // Day 3, 2 s before midnight: quoted 6 s, produces 4 s, settles on day 4 — stays on day 3.
  gw.advance(DAY_MS - (gw.now() % DAY_MS) - 2_000);
  fal.fates.push({ outcome: 'complete', durationS: 4 });
  const late = await run(b.key, 6);
  const done = await gw.settle(late.id, b.key);
  expect(done.usage).toMatchObject({ reserved_usd: 0.9, charged_usd: 0.6, refunded_usd: 0.3 });
  expect(isoDay(gw.now())).not.toBe(isoDay(late.created * 1000));
  to = isoDay(gw.now());
});

afterAll(async () => {
  if (!gw) return;
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

describe('a month of mixed tasks', () => {
  it('the ledger, summed by creation day, is what /admin/spend reports — refunds stay on the creation day', async () => {
    const spend = await admin('GET', `/admin/spend?from=${from}&to=${to}&group_by=day`);
    expect(spend.status).toBe(200);
    // The ledger lines of each task, summed by the UTC day the task was created.
    const tasks = await gw.store.tasks.all();
    const totals = await gw.store.ledger.totalsByTask(tasks.map((t) => t.id));
    const byDay = new Map<string, { day: string; hold: number; charge: number; refund: number }>();
    for (const t of tasks) {
      const day = new Date(t.createdAt).toISOString().slice(0, 10);
      const sum = byDay.get(day) ?? { day, hold: 0, charge: 0, refund: 0 };
      const k = totals.get(t.id);
      if (k) Object.assign(sum, { hold: sum.hold + k.hold, charge: sum.charge + k.charge, refund: sum.refund + k.refund });
      byDay.set(day, sum);
    }
    const ledger = [...byDay.values()].sort((x, y) => x.day.localeCompare(y.day));
    expect(spend.body.data.map((r: { day: string }) => r.day)).toEqual(ledger.map((l) => l.day));
    spend.body.data.forEach((row: Record<string, number>, i: number) => {
      const l = ledger[i]!;
      expect([micros(row.reserved_usd!), micros(row.charged_usd!), micros(row.refunded_usd!)]).toEqual([l.hold, l.charge, l.refund]);
    });
    // The day-3 row carries the late task's refund although it was written on day 4.
    const day3 = spend.body.data[2];
    expect(day3).toMatchObject({ tasks: 2, completed: 2 });
    expect(spend.body.totals).toMatchObject({ tasks: 6, completed: 4, failed: 1, cancelled: 1 });
    // margin = charged − upstream cost, per row and in total, to the micro.
    for (const r of [...spend.body.data, spend.body.totals]) expect(micros(r.margin_usd)).toBe(micros(r.charged_usd) - micros(r.upstream_cost_usd));
  });

  it('the CSV says exactly what the JSON says, as plain decimals, formula-guarded', async () => {
    const query = `from=${from}&to=${to}&group_by=day,key,model,provider`;
    const json = (await admin('GET', `/admin/spend?${query}`)).body;
    const csv = (await admin('GET', `/admin/spend?${query}&format=csv`)).body as string;
    const [header, ...lines] = parse(csv) as string[][];
    expect(header).toEqual(['day', 'key_id', 'key_name', 'model', 'provider', 'tasks', 'completed', 'failed', 'cancelled', 'billable_units', 'reserved_usd', 'charged_usd', 'refunded_usd', 'upstream_cost_usd', 'margin_usd']);
    const total = lines.pop()!;
    expect(lines).toHaveLength(json.data.length);
    const cells = (r: Record<string, number | string | null>) =>
      header!.slice(0, 5).map((h) => (h === 'key_name' && String(r[h]).startsWith('=') ? `'${r[h]}` : (r[h] ?? ''))).concat(
        header!.slice(5).map((h) => (h.endsWith('_usd') ? microsToDecimal(micros(r[h] as number)) : String(r[h]))),
      );
    lines.forEach((line, i) => expect(line).toEqual(cells(json.data[i])));
    expect(total).toEqual(['total', '', '', '', '', ...cells(json.totals).slice(5)]);
    for (const line of [...lines, total]) for (const money of line.slice(10)) expect(money).toMatch(/^-?\d+(\.\d{1,6})?$/);
  });

  it('/v1/usage gives each key its own rows of /admin/spend, without upstream cost or margin', async () => {
    const all = (await admin('GET', `/admin/spend?from=${from}&to=${to}&group_by=key,day,model`)).body;
    for (const k of [a, b]) {
      const usage = await gw.call('GET', `/v1/usage?from=${from}&to=${to}&group_by=day,model`, { key: k.key });
      expect(usage.status).toBe(200);
      const mine = all.data.filter((r: { key_id: string }) => r.key_id === k.id);
      expect(usage.body.data).toEqual(
        mine.map(({ key_id: _k, key_name: _n, upstream_cost_usd: _u, margin_usd: _m, ...rest }: Record<string, unknown>) => rest),
      );
      expect(JSON.stringify(usage.body)).not.toMatch(/upstream|margin/);
      const csv = await gw.call('GET', `/v1/usage?from=${from}&to=${to}&group_by=day&format=csv`, { key: k.key });
      expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect((csv.body as string).split('\r\n')[0]).toBe('day,tasks,completed,failed,cancelled,billable_units,reserved_usd,charged_usd,refunded_usd');
    }
    const totals = await Promise.all([a, b].map(async (k) => (await gw.call('GET', `/v1/usage?from=${from}&to=${to}`, { key: k.key })).body.totals));
    const sum = (f: string) => totals.reduce((s, t) => s + micros(t[f]), 0);
    expect(sum('charged_usd')).toBe(micros(all.totals.charged_usd));
    expect(sum('refunded_usd')).toBe(micros(all.totals.refunded_usd));
  });

  it("each emulator's own statement reconciles to a 0 difference, every non-zero line explained", async () => {
    const spend = (await admin('GET', `/admin/spend?from=${from}&to=${to}`)).body.totals;
    let theirs = 0;
    for (const p of PROVIDERS) {
      const csv = await statementOf(p);
      const column = csv.startsWith('upstream_id,amount_credits') ? 'amount_credits' : undefined;
      expect(column !== undefined).toBe(p === 'kie-1');
      const res = await reconcile(p, csv, column);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ provider: p, from, to, difference_usd: 0, mismatched: [] });
      expect(res.body.theirs_total_usd).toBe(res.body.ours_total_usd);
      theirs += micros(res.body.theirs_total_usd);
      if (p === 'fal-1') {
        // The lost answer: our quote for it (no upstream id) and fal's bill for it (an id we never learned).
        expect(res.body.matched).toBe(2);
        expect(res.body.missing_from_statement).toEqual([{ upstream_id: null, task_id: expect.any(String), ours_usd: 0.63, attempt_status: 'unknown' }]);
        expect(res.body.unknown_to_us).toEqual([{ upstream_id: expect.any(String), theirs_usd: 0.63 }]);
      } else {
        expect(res.body).toMatchObject({ matched: 1, missing_from_statement: [], unknown_to_us: [] });
      }
    }
    // The providers billed the upstream cost of the completed tasks plus the lost create, nothing else.
    expect(theirs).toBe(micros(spend.upstream_cost_usd) + micros(0.63));
    // fal 5 s × $0.126, kie 5 s × 11 credits × $0.005, replicate 5 s × $0.07, fal 4 s × $0.126.
    expect(micros(spend.upstream_cost_usd)).toBe(630_000 + 275_000 + 350_000 + 504_000);
  });

  it('a tampered statement shows as mismatched, missing and unknown lines', async () => {
    const csv = await statementOf('fal-1');
    const [header, first, ...rest] = csv.trim().split('\r\n');
    const [id] = first!.split(',');
    const tampered = [header, `${id},0.700001`, 'not-ours-1,"1.5"', `${id},0.1`, ...rest.slice(1)].join('\r\n');
    const res = await reconcile('fal-1', tampered);
    expect(res.body.mismatched).toEqual([{ upstream_id: id, task_id: expect.any(String), ours_usd: 0.63, theirs_usd: 0.800001 }]);
    expect(res.body.unknown_to_us).toContainEqual({ upstream_id: 'not-ours-1', theirs_usd: 1.5 });
    expect(res.body.missing_from_statement.length).toBeGreaterThanOrEqual(1);
    expect(micros(res.body.difference_usd)).toBe(micros(res.body.theirs_total_usd) - micros(res.body.ours_total_usd));
  });

  it('takes statements bigger than the JSON body limit, up to its own limit', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `other-${i},0.01`);
    const big = ['upstream_id,amount_usd', ...lines].join('\r\n');
    expect(big.length).toBeGreaterThan(256 * 1024);
    const res = await reconcile('kie-1', big);
    expect(res.status).toBe(200);
    expect(res.body.unknown_to_us).toHaveLength(20_000);
    expect(res.body.theirs_total_usd).toBe(200);
    const tooBig = await reconcile('kie-1', 'x'.repeat(16 * 1024 * 1024 + 1));
    expect(tooBig.status).toBe(413);
  });

  it('refuses what it cannot read with the error envelope', async () => {
    const cases: [string, string, string | undefined, number, string][] = [
      ['fal-1', 'upstream_id,amount_usd\r\nx,1e-3\r\n', undefined, 400, 'body'],
      ['fal-1', 'id,amount\r\nx,1\r\n', undefined, 400, 'id_column'],
      ['fal-1', 'upstream_id,amount_usd\r\nx,1\r\n', 'amount_credits', 400, 'amount_column'],
      ['fal-1', 'upstream_id,amount_usd\r\n"x,1\r\n', undefined, 400, 'body'],
      ['nope', 'upstream_id,amount_usd\r\n', undefined, 400, 'provider'],
    ];
    for (const [p, csv, column, status, param] of cases) {
      const res = await reconcile(p, csv, column);
      expect(res.status, csv).toBe(status);
      expect(res.body.error.param, csv).toBe(param);
    }
    const json = await admin('POST', `/admin/reconciliation?provider=fal-1`, { raw: '{}', headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(415);
    const client = await gw.call('POST', '/admin/reconciliation?provider=fal-1', { key: a.key, raw: 'upstream_id,amount_usd\r\n', headers: { 'content-type': 'text/csv' } });
    expect(client.status).toBe(403);
  });
});
