/**
 * The report worker thread and the in-process fallback answer byte-for-byte the same JSON and CSV,
 * and both match the rollup the triggers keep while tasks change (failover, settlement).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { openStore } from '../../src/db/store.ts';
import { createKey } from '../../src/keys/keys.ts';
import { spendRepo, type SpendDimension } from '../../src/db/repos/spend.ts';
import { reportRunner } from '../../src/reports/runner.ts';

const dir = mkdtempSync(join(tmpdir(), 'reelroute-reports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = async (s: ReadableStream<Uint8Array>) => new Response(s).text();

it('worker and fallback agree, through inserts and updates of tasks', async () => {
  const path = join(dir, 'r.db');
  const store = await openStore(path);
  const day = Date.UTC(2026, 10, 30, 23, 59);
  const key = (await createKey(store, { name: '=evil,key', balanceMicros: null, dailyBudgetMicros: null, monthlyBudgetMicros: null }, day)).row;
  const base = { keyId: key.id, quality: '720p', request: '{}', billingRule: 'per_second', billableUnits: 5, unitPriceMicros: 100_000, listPriced: false, updatedAt: day };
  for (let i = 0; i < 30; i++) {
    await store.tasks.insertTask({ ...base, id: `task_${i}`, model: i % 4 ? 'kling-v3-motion-control' : 'kling-custom-element', status: 'pending', reservedMicros: 500_000, provider: i % 2 ? 'fal-1' : 'kie-1', createdAt: day + i * 3_000 });
  }
  // Failover moves a task between providers; settlement after midnight stays on the creation day.
  await store.tasks.update('task_1', { provider: 'rep-1', reservedMicros: 700_000 });
  await store.tasks.update('task_2', { status: 'completed', chargedMicros: 400_000, refundedMicros: 100_000, upstreamCostMicros: 350_000 });
  await store.tasks.update('task_3', { status: 'failed', refundedMicros: 500_000 });

  const worker = store.reports;
  const plain = new Database(path, { readonly: true });
  const inProcess = reportRunner(':memory:', spendRepo(plain));
  // A worker that dies at start (here: its database file is missing) costs nothing but the thread:
  // the jobs it held are made in-process.
  const dying = reportRunner(join(dir, 'missing.db'), spendRepo(plain));
  for (const groupBy of [[], ['day', 'provider'], ['key', 'model'], ['provider', 'day', 'model', 'key']] as SpendDimension[][]) {
    const job = { range: { from: '2026-11-01', to: '2026-12-31' }, audience: 'admin' as const, head: { object: 'spend_report', from: '2026-11-01', to: '2026-12-31', groupBy } };
    const json = await worker.json(job);
    expect(json).toBe(await inProcess.json(job));
    if (groupBy.length === 0) expect(await dying.json(job)).toBe(json);
    expect(await text(worker.csv(job))).toBe(await text(inProcess.csv(job)));
    const client = { ...job, audience: 'client' as const };
    expect(await worker.json(client)).not.toMatch(/upstream|margin/);
    expect(await text(worker.csv(client))).toBe(await text(inProcess.csv(client)));
    // The totals are what a plain sum over the tasks says.
    const sums = plain.prepare('SELECT COUNT(*) AS tasks, SUM(reserved_micros) AS r, SUM(charged_micros) AS c, SUM(refunded_micros) AS f FROM tasks').get() as Record<string, number>;
    const totals = JSON.parse(json).totals;
    expect([totals.tasks, totals.reserved_usd, totals.charged_usd, totals.refunded_usd]).toEqual([sums.tasks, sums.r! / 1e6, sums.c! / 1e6, sums.f! / 1e6]);
  }
  const byDay = JSON.parse(await worker.json({ range: { from: '2026-11-30', to: '2026-12-01' }, audience: 'admin', head: { object: 'x', from: '', to: '', groupBy: ['day'] } }));
  expect(byDay.data.map((r: { day: string; tasks: number }) => [r.day, r.tasks])).toEqual([['2026-11-30', 20], ['2026-12-01', 10]]);
  plain.close();
  await Promise.all([dying.close(), inProcess.close(), store.close()]);
});
