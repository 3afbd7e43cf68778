/**
 * Create a task: quote it, write the task, its hold and its first attempt in one transaction
 * (balance and budgets checked inside it), then send it upstream with failover.
 */
import type { ApiKeyRow } from '../db/schema/index.ts';
import { ApiError } from '../errors.ts';
import { newId } from '../ids.ts';
import { hold } from '../ledger/ledger.ts';
import { rankCandidates, type Candidate } from '../routing/select.ts';
import { assertWithinMaxCost, resolveRoute, type RoutePrefs } from '../routing/preferences.ts';
import type { EngineContext } from './context.ts';
import { attemptRow, dispatch, reconcileAfter } from './dispatch.ts';
import { finishFailed } from './finish.ts';
import type { Prepared } from './prepare.ts';
import { take, type IdempotencyClaim } from './idempotency.ts';

export interface Quote {
  candidates: Candidate[];
  /** Micro-USD per unit the key pays. */
  unitPriceMicros: number;
  listPriced: boolean;
  estimateMicros: number;
}

/** The providers for a prepared request, ranked under the key's routing preferences, each priced for the key. */
export function rankFor(ctx: EngineContext, p: Prepared, route?: RoutePrefs): Candidate[] {
  const list = ctx.listPrices.get(p.model);
  return rankCandidates(ctx.providers, ctx.health, {
    model: p.model,
    quality: p.quality,
    units: p.units,
    ...(p.onlyProvider ? { onlyProvider: p.onlyProvider } : {}),
    ...(route ? { route } : {}),
    ...(list ? { listUnitPriceMicros: list.perUnit[p.quality] } : {}),
  });
}

/**
 * Price the task for the key from its ranked candidates (default: rank them now). Throws 400
 * max_cost_exceeded when only the price ceiling excludes every provider, else 503 when none can take it.
 */
export function quote(ctx: EngineContext, p: Prepared, route?: RoutePrefs, candidates: Candidate[] = rankFor(ctx, p, route)): Quote {
  const first = candidates[0];
  if (!first?.eligible) {
    assertWithinMaxCost(candidates, route);
    const why = candidates.length ? candidates.map((c) => `${c.provider.id}: ${c.reason}`).join('; ') : 'no providers configured';
    throw new ApiError('no_provider_available', `no provider can take this task (${why})`);
  }
  const list = ctx.listPrices.get(p.model);
  const unitPriceMicros = list ? list.perUnit[p.quality] : first.unitCostMicros;
  return { candidates, unitPriceMicros, listPriced: list !== undefined, estimateMicros: unitPriceMicros * p.units };
}

/** Submit a prepared request for a key. Resolves with the task id once an upstream accepted it. */
export async function submit(ctx: EngineContext, key: ApiKeyRow, p: Prepared, claim?: IdempotencyClaim): Promise<string> {
  const route = resolveRoute(key.route, p.route, ctx.providers);
  const q = quote(ctx, p, route);
  const first = q.candidates[0]!;
  const now = ctx.now();
  const taskId = newId('task', now);
  const attempt = attemptRow(ctx, taskId, 1, first, now);
  await ctx.store.batch(async (tx) => {
    if (claim) await take(tx, claim, taskId, now);
    // The hold (budgets checked) comes before the task row that carries it: see ledger.hold.
    await hold(tx, key.id, taskId, q.estimateMicros, now);
    await tx.tasks.insertTask({
      id: taskId,
      keyId: key.id,
      model: p.model,
      quality: p.quality,
      status: 'pending',
      request: JSON.stringify(p.request),
      callbackUrl: p.callbackUrl ?? null,
      billingRule: p.rule,
      billableUnits: p.units,
      unitPriceMicros: q.unitPriceMicros,
      listPriced: q.listPriced,
      reservedMicros: q.estimateMicros,
      provider: first.provider.id,
      pinnedProvider: p.onlyProvider ?? null,
      route: route ? JSON.stringify(route) : null,
      nextPollAt: now + reconcileAfter(first.provider.timeoutMs),
      leaseOwner: ctx.replicaId,
      createdAt: now,
      updatedAt: now,
    });
    await tx.tasks.insertAttempt(attempt);
  });
  ctx.metrics.tasksCreated.inc({ model: p.model, provider: first.provider.id });
  ctx.metrics.money.inc({ kind: 'held' }, q.estimateMicros);
  // Committed: this request owns the key from here on (a throw above rolled the take back).
  if (claim) claim.taken = true;
  ctx.inFlight.add(taskId);
  try {
    const outcome = await dispatch(ctx, taskId, { attempt, candidate: first });
    if (outcome.kind === 'rejected') {
      await finishFailed(ctx, taskId, 'upstream_rejected', outcome.message, outcome.attempt);
      throw new ApiError('upstream_rejected', `the upstream rejected the input: ${outcome.message}`);
    }
    if (outcome.kind === 'exhausted') {
      const why = outcome.reasons.join('; ');
      if (claim) claim.mayBeRunning = (await ctx.store.tasks.attempts(taskId)).some((a) => a.status === 'unknown' || a.status === 'submitting');
      await finishFailed(ctx, taskId, 'no_provider_available', why);
      throw new ApiError('no_provider_available', `every provider tried failed (${why}); nothing was charged`);
    }
    return taskId;
  } finally {
    ctx.inFlight.delete(taskId);
  }
}
