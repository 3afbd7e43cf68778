/**
 * The crash drill (`npm run drill`, scripts/drill.ts) in small: the real gateway process, three
 * emulated upstreams on the real clock, 40 tasks with mixed fates (complete, fail-then-failover,
 * fail everywhere, input rejection, cancel; create faults), callbacks to a receiver that fails the
 * first tries, and two SIGKILLs with restarts on the same database. Nothing may be lost: every task
 * ends, money balances per task and per key, no second upstream create, every callback arrives.
 *
 * The first kill catches creates on their way upstream (each emulator's next create hangs 1.5 s):
 * the restarted gateway finds their attempts `submitting` and reconciles them once the create's
 * timeout has passed. The second kill falls between submits.
 */
import { expect, it } from 'vitest';
import { runDrill } from '../../scripts/drill.ts';

it('a small drill with two SIGKILLs loses nothing', async () => {
  const result = await runDrill({ tasks: 40, kills: 2, windowMs: 5_000, concurrency: 8, settleTimeoutMs: 60_000, killBetweenSubmits: true, midCreateKills: 1 });
  const report = [...result.details, ...result.notes, result.summary].join('\n');
  expect(result.details, report).toEqual([]);
  expect(result.ok, report).toBe(true);
  expect(result.kills).toBe(2);
  expect(result.submittingAtKills, report).toBeGreaterThan(0);
  expect((result.status.completed ?? 0) + (result.status.failed ?? 0) + (result.status.cancelled ?? 0)).toBeGreaterThan(30);
  expect(result.missingCallbacks).toBe(0);
}, 120_000);
