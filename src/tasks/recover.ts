/** Start-up recovery of work a previous process left half done. */
import { providerById, type EngineContext } from './context.ts';

/**
 * Attempts a previous process left `submitting` (it died mid-create): no request waits on them any
 * more, so the poller reconciles each once its create's own timeout has passed (the upstream may
 * still be taking it until then) instead of after the margin a live process needs. Call before the
 * poller starts. SQLite only (one gateway per database): on PostgreSQL another replica may be
 * sending that create right now, so its attempt waits out the full margin its lease gives it.
 */
export async function recoverInterrupted(ctx: EngineContext): Promise<void> {
  if (ctx.store.engine !== 'sqlite') return;
  const now = ctx.now();
  for (const a of await ctx.store.tasks.submittingAttempts()) {
    if (ctx.inFlight.has(a.taskId)) continue;
    const at = Math.max(now, a.createdAt + (providerById(ctx, a.providerId)?.timeoutMs ?? 0));
    if (at < a.nextPollAt) await ctx.store.tasks.update(a.taskId, { nextPollAt: at });
  }
}
