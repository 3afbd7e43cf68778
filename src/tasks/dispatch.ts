/**
 * Sending a task upstream with failover. The attempt row (the intent) is written before the create
 * is sent, so a crash in between is reconciled by the poller instead of forgotten; each failure is
 * classified (PROVIDERS.md) into: try the next provider, stop (the input is at fault), or find out.
 */
import { ProviderError, type CreateResult } from '../../providers/types.ts';
import type { AttemptRow, TaskRow } from '../db/schema/index.ts';
import { ApiError } from '../errors.ts';
import { randomBytes } from 'node:crypto';
import { newId } from '../ids.ts';
import { hold } from '../ledger/ledger.ts';
import type { Candidate } from '../routing/select.ts';
import { rankCandidates } from '../routing/select.ts';
import type { Admission } from '../routing/health.ts';
import type { RoutePrefs } from '../routing/preferences.ts';
import type { CanonicalModel, Quality } from '../../providers/types.ts';
import { LIVE_ATTEMPT, TERMINAL, requestOf, type EngineContext } from './context.ts';
import type { AttemptEnd } from './finish.ts';
import { providerFailureText } from './client-errors.ts';

/** With webhooks registered, polls are this much rarer (they only catch lost deliveries). */
const WEBHOOK_POLL_FACTOR = 4;

export type DispatchOutcome =
  | { kind: 'accepted' }
  /** The input was rejected; `attempt` is to be marked failed together with the task's end. */
  | { kind: 'rejected'; message: string; attempt: AttemptEnd }
  | { kind: 'exhausted'; reasons: string[] }
  /** The task ended elsewhere meanwhile (cancelled). */
  | { kind: 'ended' };

export interface Started {
  attempt: AttemptRow;
  candidate: Candidate;
}

/** How long an attempt may stay `submitting` before the poller reconciles it (a crash happened). */
export function reconcileAfter(timeoutMs: number): number {
  return timeoutMs + 30_000;
}

/** A new attempt row for a candidate (not yet inserted), with a webhook token when webhooks can reach us. */
export function attemptRow(ctx: EngineContext, taskId: string, seq: number, c: Candidate, now: number): AttemptRow {
  const webhooks = ctx.config.server.public_base_url !== undefined && c.provider.adapter.capabilities.webhooks;
  return {
    id: newId('att', now),
    taskId,
    seq,
    providerId: c.provider.id,
    upstreamId: null,
    webhookToken: webhooks ? randomBytes(24).toString('base64url') : null,
    upstreamHandle: null,
    status: 'submitting',
    unitCostMicros: c.unitCostMicros,
    errorCode: null,
    errorMessage: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** Try attempts until one is accepted, the input is rejected, or no candidate is left. */
export async function dispatch(ctx: EngineContext, taskId: string, first?: Started): Promise<DispatchOutcome> {
  const reasons: string[] = [];
  let next: Started | 'ended' | null = first ?? (await startNext(ctx, taskId, reasons));
  while (next && next !== 'ended') {
    const outcome = await runAttempt(ctx, taskId, next, reasons);
    if (outcome) return outcome;
    next = await startNext(ctx, taskId, reasons);
  }
  return next === 'ended' ? { kind: 'ended' } : { kind: 'exhausted', reasons };
}

/** Pick the next candidate and write its attempt (growing the hold if it is pricier). */
async function startNext(ctx: EngineContext, taskId: string, reasons: string[]): Promise<Started | 'ended' | null> {
  const task = await ctx.store.tasks.get(taskId);
  if (!task || TERMINAL.has(task.status)) return 'ended';
  const tried = await ctx.store.tasks.attempts(taskId);
  // The latest attempt is live: another path (a webhook, another replica) started it meanwhile and runs the task now.
  if (LIVE_ATTEMPT.has(tried.at(-1)?.status ?? '')) return 'ended';
  if (tried.length >= ctx.config.routing.max_attempts) {
    reasons.push(`stopped after ${tried.length} attempts (routing.max_attempts)`);
    return null;
  }
  const ranked = rankCandidates(ctx.providers, ctx.health, {
    model: task.model as CanonicalModel,
    quality: task.quality as Quality,
    units: task.billableUnits,
    exclude: new Set(tried.map((a) => a.providerId)),
    ...(task.pinnedProvider ? { onlyProvider: task.pinnedProvider } : {}),
    // The task's routing preferences hold on failover too: max_cost_usd is checked against what the key would pay.
    ...(task.route ? { route: JSON.parse(task.route) as RoutePrefs } : {}),
    ...(task.listPriced ? { listUnitPriceMicros: task.unitPriceMicros } : {}),
  });
  for (const c of ranked) {
    if (!c.eligible) continue;
    try {
      let grown = 0;
      const attempt = await ctx.store.transaction(async (tx) => {
        const now = ctx.now();
        const fresh = (await tx.tasks.getForUpdate(taskId))!;
        // Another replica started an attempt meanwhile (or ended the task): this path stops.
        if (TERMINAL.has(fresh.status) || (await tx.tasks.attempts(taskId)).length !== tried.length) return 'ended' as const;
        let reserved = fresh.reservedMicros;
        const unitPrice = fresh.listPriced ? fresh.unitPriceMicros : c.unitCostMicros;
        const need = unitPrice * fresh.billableUnits;
        if (need > reserved) {
          grown = need - reserved;
          await hold(tx, fresh.keyId, taskId, grown, now, fresh.createdAt, `failover to ${c.provider.id}`);
          reserved = need;
        }
        const row = attemptRow(ctx, taskId, tried.length + 1, c, now);
        await tx.tasks.insertAttempt(row);
        await tx.tasks.update(taskId, {
          provider: c.provider.id,
          unitPriceMicros: unitPrice,
          reservedMicros: reserved,
          nextPollAt: now + reconcileAfter(c.provider.timeoutMs),
          leaseOwner: ctx.replicaId,
          updatedAt: now,
        });
        return row;
      });
      if (attempt === 'ended') return 'ended';
      const from = tried.at(-1);
      if (from) ctx.metrics.failovers.inc({ from: from.providerId, to: c.provider.id, reason: from.errorCode ?? 'unknown' });
      if (grown > 0) ctx.metrics.money.inc({ kind: 'held' }, grown);
      return { attempt, candidate: c };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      reasons.push(`${c.provider.id}: skipped, ${err.message}`);
    }
  }
  if (!ranked.some((c) => c.eligible)) reasons.push(...ranked.map((c) => `${c.provider.id}: ${c.reason}`));
  return null;
}

/** Send one create. Returns an outcome that ends dispatch, or null to try the next candidate. */
async function runAttempt(ctx: EngineContext, taskId: string, started: Started, reasons: string[]): Promise<DispatchOutcome | null> {
  const provider = started.candidate.provider;
  const task = (await ctx.store.tasks.get(taskId))!;
  // Admission is decided here, in the turn the create is sent: the first candidate was ranked before
  // submit's await, and another request may have opened the circuit or taken its half-open trial since.
  const admission = ctx.health.begin(provider.id, task.model);
  if (!admission.admitted) {
    // Never sent: failed at no cost, and the next candidate is tried as for any ineligible one.
    await markAttempt(ctx, started.attempt.id, 'failed', `circuit_${ctx.health.state(provider.id, task.model)}`, admission.reason ?? 'circuit not admitting');
    reasons.push(`${provider.id}: ${admission.reason}`);
    return null;
  }
  // Every way out of a half-open trial releases it, a throw included (a verdict below already did);
  // only this admission's own trial, never one another request holds.
  try {
    return await sendCreate(ctx, taskId, task, started, reasons, admission);
  } finally {
    ctx.health.release(provider.id, task.model, admission);
  }
}

async function sendCreate(ctx: EngineContext, taskId: string, task: TaskRow, { attempt, candidate }: Started, reasons: string[], admission: Admission): Promise<DispatchOutcome | null> {
  const provider = candidate.provider;
  let created: CreateResult | null | undefined;
  try {
    created = await provider.adapter.create({ request: requestOf(task), attemptId: attempt.id, ...webhookOf(ctx, attempt) });
  } catch (err) {
    const e = err instanceof ProviderError ? err : new ProviderError('bad_response', `adapter error: ${(err as Error).message}`);
    if (e.kind === 'invalid_request') {
      // The provider answered and judged the input: it is up (closes a half-open circuit).
      ctx.health.rejected(provider.id, task.model, admission);
      // Not marked here: the finisher marks it in the transaction that ends the task (one step on a crash).
      return { kind: 'rejected', message: `${provider.id}: ${e.message}`, attempt: { id: attempt.id, errorCode: 'upstream_rejected', errorMessage: e.message } };
    }
    if (e.kind === 'timeout' || e.kind === 'unknown_outcome') {
      created = await lookUp(ctx, attempt, task.model, task.quality);
      if (created === null) {
        // "Not found" right after a timeout proves nothing: the create may still land upstream. The
        // attempt stays `submitting` and the poller asks again shortly, failing over only after
        // "not found" lookups in a row (a second create now could run the task twice).
        ctx.health.failure(provider.id, task.model, admission);
        await ctx.store.tasks.update(taskId, { nextPollAt: ctx.now() + ctx.config.polling.initial_ms, leaseOwner: null });
        return { kind: 'accepted' };
      }
      // Cannot know whether it runs upstream: recorded as unknown, never as a failure to refund for.
      if (created === undefined) {
        await markAttempt(ctx, attempt.id, 'unknown', e.kind, e.message);
        ctx.health.failure(provider.id, task.model, admission);
        ctx.log.warn({ task: taskId, provider: provider.id, kind: e.kind, err: e.message }, 'create outcome unknown');
        reasons.push(`${provider.id}: ${providerFailureText(e.kind)}`);
        return null;
      }
    } else {
      created = null;
    }
    if (!created) {
      await markAttempt(ctx, attempt.id, 'failed', e.code ?? e.kind, e.message);
      ctx.health.failure(provider.id, task.model, admission);
      // The provider's words stay with the attempt and the log; the client reads a fixed text (client-errors.ts).
      ctx.log.warn({ task: taskId, provider: provider.id, kind: e.kind, code: e.code, err: e.message }, 'create failed');
      reasons.push(`${provider.id}: ${providerFailureText(e.kind)}`);
      return null;
    }
  }
  ctx.health.success(provider.id, task.model, admission);
  await accept(ctx, taskId, attempt, created, task.model);
  return { kind: 'accepted' };
}

/** Where this attempt's provider should send status changes, if anywhere. */
function webhookOf(ctx: EngineContext, attempt: AttemptRow): { webhookUrl?: string; webhookSecret?: string } {
  const base = ctx.config.server.public_base_url;
  if (!base || !attempt.webhookToken) return {};
  const url = `${base.replace(/\/+$/, '')}/webhooks/${encodeURIComponent(attempt.providerId)}/${attempt.webhookToken}`;
  return { webhookUrl: url, webhookSecret: attempt.webhookToken };
}

/** Poll delay: webhooks make polling a slower safety net. */
export function pollDelay(ctx: EngineContext, base: number, attempt: Pick<AttemptRow, 'webhookToken'>): number {
  return attempt.webhookToken ? Math.min(base * WEBHOOK_POLL_FACTOR, Math.max(base, ctx.config.polling.max_ms)) : base;
}

/** After a lost answer: ask the provider whether the create happened. undefined = cannot tell. */
async function lookUp(ctx: EngineContext, attempt: AttemptRow, model: string, quality: string): Promise<CreateResult | null | undefined> {
  const adapter = ctx.providers.find((p) => p.id === attempt.providerId)?.adapter;
  if (!adapter?.findByAttemptId) return undefined;
  try {
    return await adapter.findByAttemptId(attempt.id, model as CanonicalModel, quality as Quality);
  } catch {
    return undefined;
  }
}

function markAttempt(ctx: EngineContext, id: string, status: AttemptRow['status'], code: string | null, message: string): Promise<void> {
  return ctx.store.tasks.updateAttempt(id, { status, errorCode: code, errorMessage: message, updatedAt: ctx.now() });
}

/** The upstream took the task: remember its id and start polling it. */
export async function accept(ctx: EngineContext, taskId: string, attempt: AttemptRow, created: CreateResult, model: string): Promise<void> {
  const now = ctx.now();
  const running = created.state === 'processing';
  const estimate = ctx.health.p50Completion(attempt.providerId, model);
  await ctx.store.batch(async (tx) => {
    await tx.tasks.updateAttempt(attempt.id, {
      upstreamId: created.upstreamId,
      upstreamHandle: created.handle ?? null,
      status: running ? 'processing' : 'pending',
      updatedAt: now,
    });
    await tx.tasks.update(taskId, {
      ...(running ? { status: 'processing' } : {}),
      nextPollAt: now + pollDelay(ctx, ctx.config.polling.initial_ms, attempt),
      leaseOwner: null,
      polls: 0,
      notFoundStreak: 0,
      // The ETA is the running provider's: after a failover to one with no completions yet, the default again.
      estimatedTime: estimate === null ? null : Math.round(estimate),
      updatedAt: now,
    });
  });
}
