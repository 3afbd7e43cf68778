/**
 * The replica drill (`npm run drill -- --replicas 3 --db postgres`) in small: three real gateway
 * processes on one PostgreSQL database (a fresh one on the test server) and one shared files folder,
 * clients round robin across them, 72 tasks of mixed fates, and two SIGKILLs of replicas with
 * restarts on the same port while the others keep serving: one catches a replica mirroring an output,
 * the other strikes a random replica between submits. Nothing may be lost: every task ends, money
 * balances per task and per key, no second upstream create, every callback arrives (one webhook-id
 * per task event), each provider's statement reconciles. A dead replica's leases (polls, mirrors,
 * callbacks) must be taken over by the others.
 *
 * No mid-create kill here: an attempt a dead replica left `submitting` waits out its create's timeout
 * plus the 30 s margin on PostgreSQL (another replica may be sending it), too long for `npm test`;
 * the full drill does it.
 */
import { expect, inject, it } from 'vitest';
import { runDrill } from '../../scripts/drill.ts';

it('three replicas on PostgreSQL lose nothing through two SIGKILLs', async () => {
  const result = await runDrill({ replicas: 3, db: 'postgres', pgUrl: inject('pgUrl'), tasks: 72, kills: 2, windowMs: 4_000, concurrency: 8, settleTimeoutMs: 75_000, killBetweenSubmits: true, midCreateKills: 0, midMirrorKills: 1 });
  const report = [...result.details, ...result.notes, result.summary].join('\n');
  expect(result.details, report).toEqual([]);
  expect(result.ok, report).toBe(true);
  expect(result.engine).toBe('postgres');
  expect(result.replicas).toBe(3);
  expect(result.kills).toBe(2);
  expect((result.status.completed ?? 0) + (result.status.failed ?? 0) + (result.status.cancelled ?? 0)).toBeGreaterThan(62);
  expect(result.missingCallbacks).toBe(0);
  expect(result.midMirror, report).toBeGreaterThan(0);
  expect(result.resultUrls, report).toBeGreaterThanOrEqual(result.status.completed ?? 0);
  expect(result.reconciliation, report).toHaveLength(4);
  for (const line of result.reconciliation) expect(line, report).toMatch(/ 0 mismatched, .*unexplained 0$/);
  expect(result.summary).toMatch(/^drill \(postgres, 3 replicas\): /);
  console.log([...result.reconciliation, result.summary].join('\n'));
}, 150_000);
