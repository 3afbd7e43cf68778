/** Cancel a task where its provider allows it; the whole hold is refunded. */
import { ProviderError } from '../../providers/types.ts';
import { ApiError } from '../errors.ts';
import { TERMINAL, providerById, refOf, type EngineContext } from './context.ts';
import { finishCancelled } from './finish.ts';

export async function cancel(ctx: EngineContext, taskId: string): Promise<void> {
  const task = ctx.store.tasks.get(taskId);
  if (!task) throw new ApiError('not_found', `no task ${taskId}`);
  if (TERMINAL.has(task.status)) throw new ApiError('task_not_cancellable', `task is already ${task.status}`);
  if (ctx.inFlight.has(taskId)) throw new ApiError('task_not_cancellable', 'task is being sent upstream right now; try again in a moment');
  const attempt = ctx.store.tasks.attempts(taskId).at(-1);
  const adapter = task.provider ? providerById(ctx, task.provider)?.adapter : undefined;
  if (!attempt?.upstreamId || !adapter) throw new ApiError('task_not_cancellable', 'task has no upstream task to cancel yet');
  if (!adapter.cancel) throw new ApiError('task_not_cancellable', `provider ${task.provider} does not support cancelling`);
  ctx.inFlight.add(taskId);
  try {
    await adapter.cancel(refOf(task, attempt.upstreamId, attempt.upstreamHandle));
  } catch (err) {
    const msg = err instanceof ProviderError ? err.message : String(err);
    throw new ApiError('task_not_cancellable', `provider ${task.provider} refused to cancel: ${msg}`);
  } finally {
    ctx.inFlight.delete(taskId);
  }
  if (!finishCancelled(ctx, taskId, attempt.id)) {
    throw new ApiError('task_not_cancellable', 'task ended before the cancel took effect');
  }
}
