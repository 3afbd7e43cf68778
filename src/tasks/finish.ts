/**
 * The ends of a task: each is one transaction that re-reads the task (another path may have ended
 * it first), settles the money, and writes the final state. Ending twice is a no-op.
 */
import type { UpstreamStatus } from '../../providers/types.ts';
import type { AttemptRow, TaskRow } from '../db/schema/index.ts';
import { newId } from '../ids.ts';
import { settle } from '../ledger/ledger.ts';
import { announce } from '../callbacks/outbox.ts';
import { microsToUsd } from '../pricing/money.ts';
import { LIVE_ATTEMPT, TERMINAL, type EngineContext } from './context.ts';

/** An attempt that ends with its task (an input rejection), written in the task's transaction. */
export interface AttemptEnd {
  id: string;
  errorCode: string;
  errorMessage: string;
}

/**
 * Fail a task and refund its whole hold; `attempt` is marked failed in the same transaction (a crash
 * between the two would leave a failed attempt that the poller fails over). Returns false when it had
 * already ended.
 */
export function finishFailed(ctx: EngineContext, taskId: string, code: string, message: string, attempt?: AttemptEnd, opts: { unlessLive?: boolean } = {}): Promise<boolean> {
  return counted(ctx, (ended) => ctx.store.transaction(async (tx) => {
    const task = await tx.tasks.getForUpdate(taskId);
    if (!task || TERMINAL.has(task.status)) return false;
    // `unlessLive`: a failover that found no provider left must not end a task another replica just sent again.
    if (opts.unlessLive && LIVE_ATTEMPT.has((await tx.tasks.attempts(taskId)).at(-1)?.status ?? '')) return false;
    const now = ctx.now();
    const { charged, refunded } = await settle(tx, task, 0, now);
    if (attempt) await tx.tasks.updateAttempt(attempt.id, { status: 'failed', errorCode: attempt.errorCode, errorMessage: attempt.errorMessage, updatedAt: now });
    await tx.tasks.update(taskId, {
      status: 'failed',
      errorCode: code,
      errorMessage: message,
      chargedMicros: charged,
      refundedMicros: refunded,
      nextPollAt: null,
      updatedAt: now,
      finishedAt: now,
    });
    await announce(tx, taskId, now);
    ended({ model: task.model, provider: task.provider, status: 'failed', charged, refunded });
    return true;
  }));
}

/** Cancel a task (the provider accepted the cancel) and refund its whole hold. */
export function finishCancelled(ctx: EngineContext, taskId: string, attemptId: string | null): Promise<boolean> {
  return counted(ctx, (ended) => ctx.store.transaction(async (tx) => {
    const task = await tx.tasks.getForUpdate(taskId);
    if (!task || TERMINAL.has(task.status)) return false;
    const now = ctx.now();
    const { charged, refunded } = await settle(tx, task, 0, now);
    if (attemptId) await tx.tasks.updateAttempt(attemptId, { status: 'cancelled', updatedAt: now });
    await tx.tasks.update(taskId, {
      status: 'cancelled',
      chargedMicros: charged,
      refundedMicros: refunded,
      nextPollAt: null,
      updatedAt: now,
      finishedAt: now,
    });
    await announce(tx, taskId, now);
    ended({ model: task.model, provider: task.provider, status: 'cancelled', charged, refunded });
    return true;
  }));
}

/** What a completion produced and what the key is billed for. */
export interface CompletionUsage {
  /** Units the key is charged for: produced, capped at the units held. */
  billedUnits: number;
  /** Units the upstream reported (or the output's header showed) producing, uncapped; null when unknown. */
  producedUnits: number | null;
  /** The output exists but reading its header failed (maybe for a moment: a busy probe, a network blip). */
  probeFailed?: true;
}

/** Produced units as the upstream reports them or, failing that, as the output's header says. */
export async function measureUsage(ctx: EngineContext, task: TaskRow, status: UpstreamStatus): Promise<CompletionUsage> {
  if (task.billingRule === 'per_request') return { billedUnits: 1, producedUnits: 1 };
  let produced: number | null = null;
  let probeFailed = false;
  if (status.outputDurationS !== undefined) produced = Math.round(status.outputDurationS);
  else if (status.outputs?.[0]) {
    const probed = await ctx.probe.duration(status.outputs[0]);
    if (probed.ok) produced = Math.round(probed.durationS);
    else probeFailed = true;
  }
  // Unknown: the quote stands (CONTRACT §3).
  if (produced === null) return { billedUnits: task.billableUnits, producedUnits: null, ...(probeFailed ? { probeFailed: true as const } : {}) };
  produced = Math.max(0, produced);
  return { billedUnits: Math.min(produced, task.billableUnits), producedUnits: produced };
}

/**
 * A task produced more than its key was billed for (e.g. a media server showed the probe a shorter
 * clip than the provider rendered): the key's charge stays capped at its hold, the operator pays the
 * rest. Reported after the completion committed; `reelroute_underbilled_micros_total` counts it.
 */
export interface UnderbilledEvent {
  taskId: string;
  keyId: string;
  provider: string;
  model: string;
  billedUnits: number;
  producedUnits: number;
  /** What the key would have paid for the unbilled units, micro-USD. */
  unbilledMicros: number;
  /** What the upstream charges the operator for the unbilled units, micro-USD. */
  unbilledCostMicros: number;
}

/**
 * Complete a task: charge the billed units at the task's unit price (never above the hold), refund
 * the rest, book the upstream cost of what was produced (never capped: the provider bills it), flag
 * and audit an under-billing, and for an element issue our own `el_…` id. Returns the under-billing
 * when there was one (for metrics), `false` when the task had already ended, else `true`.
 */
export function finishCompleted(ctx: EngineContext, task: TaskRow, attempt: AttemptRow, status: UpstreamStatus, usage: CompletionUsage): Promise<boolean | UnderbilledEvent> {
  return counted(ctx, (ended) => ctx.store.transaction(async (tx) => {
    const fresh = await tx.tasks.getForUpdate(task.id);
    if (!fresh || TERMINAL.has(fresh.status)) return false;
    const now = ctx.now();
    const { billedUnits, producedUnits } = usage;
    const { charged, refunded } = await settle(tx, fresh, billedUnits * fresh.unitPriceMicros, now);
    const costUnits = producedUnits ?? billedUnits;
    const unbilledUnits = producedUnits === null ? 0 : producedUnits - billedUnits;
    let resultData: string | null = null;
    if (fresh.model === 'kling-custom-element' && status.elementId !== undefined) {
      const elementId = newId('el', now);
      await tx.elements.insert({
        id: elementId,
        keyId: fresh.keyId,
        providerId: attempt.providerId,
        upstreamElementId: status.elementId,
        taskId: fresh.id,
        createdAt: now,
      });
      resultData = JSON.stringify({ element_id: elementId });
    }
    await tx.tasks.updateAttempt(attempt.id, { status: 'completed', updatedAt: now });
    await tx.tasks.update(fresh.id, {
      status: 'completed',
      progress: 100,
      results: status.outputs?.length ? JSON.stringify(status.outputs) : null,
      resultData,
      chargedMicros: charged,
      refundedMicros: refunded,
      upstreamCostMicros: costUnits * attempt.unitCostMicros,
      producedUnits,
      underbilled: unbilledUnits > 0,
      nextPollAt: null,
      updatedAt: now,
      finishedAt: now,
    });
    await announce(tx, fresh.id, now);
    ended({ model: fresh.model, provider: attempt.providerId, status: 'completed', charged, refunded });
    if (unbilledUnits <= 0) return true;
    const event: UnderbilledEvent = {
      taskId: fresh.id,
      keyId: fresh.keyId,
      provider: attempt.providerId,
      model: fresh.model,
      billedUnits,
      producedUnits: producedUnits!,
      unbilledMicros: unbilledUnits * fresh.unitPriceMicros,
      unbilledCostMicros: unbilledUnits * attempt.unitCostMicros,
    };
    await tx.admin.insertAudit({
      at: now,
      action: 'task.underbilled',
      target: fresh.id,
      before: JSON.stringify({ billed_units: billedUnits, charged_usd: microsToUsd(charged) }),
      after: JSON.stringify({
        produced_units: producedUnits,
        provider: attempt.providerId,
        unbilled_usd: microsToUsd(event.unbilledMicros),
        upstream_cost_usd: microsToUsd(costUnits * attempt.unitCostMicros),
      }),
      requestId: null,
    });
    return event;
  }));
}

interface Ended {
  model: string;
  provider: string | null;
  status: 'completed' | 'failed' | 'cancelled';
  charged: number;
  refunded: number;
}

/** Run a finisher and, once its transaction has returned, count the end it reported (CONTRACT §11 metrics). */
async function counted<T>(ctx: EngineContext, run: (ended: (e: Ended) => void) => Promise<T>): Promise<T> {
  let end: Ended | undefined;
  const result = await run((e) => (end = e));
  if (end) {
    const m = ctx.metrics;
    m.tasksEnded.inc({ model: end.model, provider: end.provider ?? '', status: end.status });
    if (end.charged > 0) m.money.inc({ kind: 'charged' }, end.charged);
    if (end.refunded > 0) m.money.inc({ kind: 'refunded' }, end.refunded);
  }
  return result;
}
