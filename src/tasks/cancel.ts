/** Cancel a task where its provider allows it; the whole hold is refunded. */
import { ProviderError } from '../../providers/types.ts';
import { providerFailureText } from './client-errors.ts';
import { ApiError } from '../errors.ts';
import { TERMINAL, providerById, refOf, type EngineContext } from './context.ts';
import { finishCancelled } from './finish.ts';

export async function cancel(ctx: EngineContext, taskId: string): Promise<void> {
  const task = await ctx.store.tasks.get(taskId);
  if (!task) throw new ApiError('not_found', `no task ${taskId}`);
  if (TERMINAL.has(task.status)) throw new ApiError('task_not_cancellable', `task is already ${task.status}`);
  if (ctx.inFlight.has(taskId)) throw new ApiError('task_not_cancellable', 'task is being sent upstream right now; try again in a moment');
  const attempt = (await ctx.store.tasks.attempts(taskId)).at(-1);
  const adapter = task.provider ? providerById(ctx, task.provider)?.adapter : undefined;
  if (!attempt?.upstreamId || !adapter) throw new ApiError('task_not_cancellable', 'task has no upstream task to cancel yet');
  if (!adapter.cancel) throw new ApiError('task_not_cancellable', `provider ${task.provider} does not support cancelling`);
  ctx.inFlight.add(taskId);
  try {
    await adapter.cancel(refOf(task, attempt.upstreamId, attempt.upstreamHandle));
  } catch (err) {
    // The provider's words go to the log only (they may name the operator's account); the client gets a fixed text.
    ctx.log.warn({ task: taskId, provider: task.provider, err: err instanceof Error ? err.message : String(err) }, 'upstream cancel failed');
    const why = err instanceof ProviderError && err.kind === 'invalid_request' ? 'the provider refused' : providerFailureText(err instanceof ProviderError ? err.kind : null);
    throw new ApiError('task_not_cancellable', `provider ${task.provider} could not cancel: ${why}`);
  } finally {
    ctx.inFlight.delete(taskId);
  }
  if (!(await finishCancelled(ctx, taskId, attempt.id))) {
    throw new ApiError('task_not_cancellable', 'task ended before the cancel took effect');
  }
}
