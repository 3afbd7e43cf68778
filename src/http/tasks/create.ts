/**
 * POST /v1/videos/generations — validate, quote, hold, send upstream; answers the task object.
 * With an Idempotency-Key the first answer is stored and replayed byte-for-byte.
 */
import type { Context, Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { prepareDeps, renderTask, type AppDeps } from '../deps.ts';
import { readJson } from '../middleware.ts';
import { prepare } from '../../tasks/prepare.ts';
import { submit } from '../../tasks/submit.ts';
import { ApiError, errorBody } from '../../errors.ts';
import { claimFor, complete, precheck, release, type IdempotencyClaim } from '../../tasks/idempotency.ts';
import { assertAffordable } from '../../ledger/ledger.ts';

const JSON_TYPE = { 'content-type': 'application/json' };

export function createRoute(app: Hono<AppEnv>, deps: AppDeps): void {
  const { ctx } = deps;
  const taskJson = async (id: string) => {
    const { task, attempts } = (await ctx.store.tasks.getWithAttempts(id))!;
    return JSON.stringify(renderTask(deps, task, attempts));
  };
  const answer = async (c: Context<AppEnv>, claim: IdempotencyClaim | undefined, status: number, text: string): Promise<Response> => {
    if (claim) await complete(ctx.store, claim, status, text);
    return c.body(text, status as 200, JSON_TYPE);
  };

  app.post('/v1/videos/generations', async (c) => {
    const key = c.get('apiKey');
    const body = await readJson(c);
    const idemKey = c.req.header('idempotency-key');
    let claim: IdempotencyClaim | undefined;
    if (idemKey !== undefined) {
      claim = claimFor(key.id, idemKey, await c.req.text());
      const pre = await precheck(ctx.store, claim, ctx.now(), ctx.inFlight);
      if (pre.kind === 'replay') return c.body(pre.body, pre.status as 200, { ...JSON_TYPE, 'idempotent-replayed': 'true' });
      if (pre.kind === 'orphaned') {
        // The request that took the key died with its process after creating the task: answer for it.
        claim.taken = true;
        return answer(c, claim, 200, await taskJson(pre.taskId));
      }
    }
    try {
      const prep = prepareDeps(deps, { pin: true });
      // A key that cannot pay anything is refused before its media are copied into the store; the
      // hold itself is checked, exactly, in submit's transaction.
      if (prep.pin) await assertAffordable(ctx.store, key.id, 1, ctx.now());
      const taskId = await submit(ctx, key, await prepare(body, key.id, prep), claim);
      return answer(c, claim, 200, await taskJson(taskId));
    } catch (err) {
      // Only the request that took the key answers for it: a racing loser's 409 is never stored.
      if (claim?.taken && err instanceof ApiError) {
        // Every provider failed, nothing charged, nothing running: free the key so a retry can try again.
        // A create whose outcome is unknown may be running upstream: its failure is replayed instead.
        if (err.status >= 500 && !claim.mayBeRunning) await release(ctx.store, claim);
        else return answer(c, claim, err.status, JSON.stringify(errorBody(err, c.get('requestId'))));
      }
      throw err;
    }
  });
}
