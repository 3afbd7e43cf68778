/**
 * The crash drill (`npm run drill`, scripts/drill.ts) in small: the real gateway process, three
 * emulated upstreams on the real clock, 40 tasks with mixed fates (complete, fail-then-failover,
 * fail everywhere, input rejection, cancel; create faults), callbacks to a receiver that fails the
 * first tries, and two SIGKILLs with restarts on the same database. Nothing may be lost: every task
 * ends, money balances per task and per key, no second upstream create, every callback arrives.
 *
 * The first kill catches creates on their way upstream (each emulator's next create hangs 1.5 s):
 * the restarted gateway finds their attempts `submitting` and reconciles them once the create's
 * timeout has passed. The second kill falls between submits while the gateway mirrors an output
 * (downloads held at the relays in front of the emulators), and each kill cuts an upload short.
 *
 * Some tasks use clips uploaded with `POST /v1/files`; outputs are mirrored (the gateway's own
 * loopback URL is its public_base_url): every completed task's result URLs must serve MP4 bytes,
 * no half upload may be listed or left in the temp folder, the mirror cut by the kill resumes. At the
 * end every provider's emulator statement is reconciled by `POST /admin/reconciliation`: no
 * mismatched line, and the whole difference explained by lost creates (unexplained 0).
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
  expect(result.midMirror, report).toBeGreaterThan(0);
  expect(result.resultUrls, report).toBeGreaterThanOrEqual(result.status.completed ?? 0);
  expect(result.reconciliation, report).toHaveLength(4);
  for (const line of result.reconciliation) expect(line, report).toMatch(/ 0 mismatched, .*unexplained 0$/);
  expect(result.reconciliation.reduce((n, l) => n + Number(/ (\d+) matched/.exec(l)?.[1] ?? 0), 0), report).toBeGreaterThanOrEqual(result.status.completed ?? 0);
  console.log([...result.reconciliation, result.summary].join('\n'));
}, 120_000);
