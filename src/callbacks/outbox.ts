/**
 * Writing callbacks: when a task ends, its announcement goes into the outbox in the same
 * transaction as the end, so a crash can delay a callback but never lose it.
 */
import type { Repos } from '../db/store.ts';
import type { DeliveryRow } from '../db/schema/index.ts';
import { taskView } from '../tasks/view.ts';

/** Stable per task event: receivers de-duplicate on it, retries and re-sends keep it. */
export function deliveryId(taskId: string, event: string): string {
  return `msg_${taskId}_${event}`;
}

/** Queue the callback for a task that just ended (no-op without a callback_url). Call inside the end's transaction. */
export async function announce(tx: Repos, taskId: string, now: number): Promise<void> {
  const task = await tx.tasks.get(taskId);
  if (!task?.callbackUrl) return;
  const payload = JSON.stringify(taskView(task, await tx.tasks.attempts(taskId), { canCancel: false }));
  const row: DeliveryRow = {
    id: deliveryId(taskId, task.status),
    taskId,
    keyId: task.keyId,
    url: task.callbackUrl,
    event: `task.${task.status}`,
    payload,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: now,
    lastStatusCode: null,
    lastError: null,
    createdAt: now,
    updatedAt: now,
    deliveredAt: null,
    leaseOwner: null,
  };
  await tx.deliveries.insert(row);
}

/** A delivery as its key sees it. */
export function deliveryView(d: DeliveryRow) {
  return {
    id: d.id,
    object: 'callback.delivery',
    url: d.url,
    event: d.event,
    status: d.status,
    attempts: d.attempts,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    next_attempt_at: d.nextAttemptAt === null ? null : Math.floor(d.nextAttemptAt / 1000),
    delivered_at: d.deliveredAt === null ? null : Math.floor(d.deliveredAt / 1000),
    created: Math.floor(d.createdAt / 1000),
  };
}
