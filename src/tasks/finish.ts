/**
 * The ends of a task: each is one transaction that re-reads the task (another path may have ended
 * it first), settles the money, and writes the final state. Ending twice is a no-op.
 */
import type { UpstreamStatus } from '../../providers/types.ts';
import type { AttemptRow, TaskRow } from '../db/schema/index.ts';
import { newId } from '../ids.ts';
import { settle } from '../ledger/ledger.ts';
import { announce } from '../callbacks/outbox.ts';
import { TERMINAL, type EngineContext } from './context.ts';

/** Fail a task and refund its whole hold. Returns false when it had already ended. */
export function finishFailed(ctx: EngineContext, taskId: string, code: string, message: string): boolean {
  return ctx.store.transaction(() => {
    const task = ctx.store.tasks.get(taskId);
    if (!task || TERMINAL.has(task.status)) return false;
    const now = ctx.now();
    const { charged, refunded } = settle(ctx.store, task, 0, now);
    ctx.store.tasks.update(taskId, {
      status: 'failed',
      errorCode: code,
      errorMessage: message,
      chargedMicros: charged,
      refundedMicros: refunded,
      nextPollAt: null,
      updatedAt: now,
      finishedAt: now,
    });
    announce(ctx.store, taskId, now);
    return true;
  });
}

/** Cancel a task (the provider accepted the cancel) and refund its whole hold. */
export function finishCancelled(ctx: EngineContext, taskId: string, attemptId: string | null): boolean {
  return ctx.store.transaction(() => {
    const task = ctx.store.tasks.get(taskId);
    if (!task || TERMINAL.has(task.status)) return false;
    const now = ctx.now();
    const { charged, refunded } = settle(ctx.store, task, 0, now);
    if (attemptId) ctx.store.tasks.updateAttempt(attemptId, { status: 'cancelled', updatedAt: now });
    ctx.store.tasks.update(taskId, {
      status: 'cancelled',
      chargedMicros: charged,
      refundedMicros: refunded,
      nextPollAt: null,
      updatedAt: now,
      finishedAt: now,
    });
    announce(ctx.store, taskId, now);
    return true;
  });
}

/**
 * Complete a task: charge `producedUnits` at the task's unit price (never above the hold), refund
 * the rest, book the upstream cost, and for an element issue our own `el_…` id.
 */
export function finishCompleted(ctx: EngineContext, task: TaskRow, attempt: AttemptRow, status: UpstreamStatus, producedUnits: number): boolean {
  return ctx.store.transaction(() => {
    const fresh = ctx.store.tasks.get(task.id);
    if (!fresh || TERMINAL.has(fresh.status)) return false;
    const now = ctx.now();
    const { charged, refunded } = settle(ctx.store, fresh, producedUnits * fresh.unitPriceMicros, now);
    let resultData: string | null = null;
    if (fresh.model === 'kling-custom-element' && status.elementId !== undefined) {
      const elementId = newId('el', now);
      ctx.store.elements.insert({
        id: elementId,
        keyId: fresh.keyId,
        providerId: attempt.providerId,
        upstreamElementId: status.elementId,
        taskId: fresh.id,
        createdAt: now,
      });
      resultData = JSON.stringify({ element_id: elementId });
    }
    ctx.store.tasks.updateAttempt(attempt.id, { status: 'completed', updatedAt: now });
    ctx.store.tasks.update(fresh.id, {
      status: 'completed',
      progress: 100,
      results: status.outputs?.length ? JSON.stringify(status.outputs) : null,
      resultData,
      chargedMicros: charged,
      refundedMicros: refunded,
      upstreamCostMicros: producedUnits * attempt.unitCostMicros,
      nextPollAt: null,
      updatedAt: now,
      finishedAt: now,
    });
    announce(ctx.store, fresh.id, now);
    return true;
  });
}
