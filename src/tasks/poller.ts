/**
 * The durable poller: follows every task to its end. Its schedule is `tasks.next_poll_at` in
 * SQLite (so it resumes after a restart), read through an index in bounded batches per provider;
 * each task backs off on its own; each provider gets a bounded number of concurrent status calls.
 */
import { ProviderError, type UpstreamStatus } from '../../providers/types.ts';
import type { AttemptRow, TaskRow } from '../db/schema/index.ts';
import { TERMINAL, providerById, refOf, type EngineContext } from './context.ts';
import { accept, dispatch, pollDelay } from './dispatch.ts';
import { finishCancelled, finishCompleted, finishFailed, measureUsage } from './finish.ts';
import { IDEMPOTENCY_TTL_MS } from './idempotency.ts';
import { recoverInterrupted } from './recover.ts';
import { providerFailureText } from './client-errors.ts';

/** Status reads in a row that may answer "not found" before the upstream task is taken as lost. */
const NOT_FOUND_LIMIT = 3;
/** Lookups of a lost create that may fail before its outcome is taken as unknown. */
const RECONCILE_TRIES = 10;
/** Completions whose output header could not be read that wait for another try before charging the quote. */
const PROBE_TRIES = 3;
/** How often expired idempotency records are purged. */
const HOUSEKEEPING_MS = 10 * 60_000;

export class Poller {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastHousekeeping = -Infinity;
  /** Due task ids from the last read of the schedule, per provider, not yet launched. */
  private queues = new Map<string, string[]>();
  /** Status calls in flight per provider: the concurrency bound. */
  private readonly active = new Map<string, number>();
  /** Failed output-header reads per completing task (in memory: a restart only allows a few more). */
  private readonly probeFailures = new Map<string, number>();
  /** Every poll in flight, so stop() and runDue() can wait for them. */
  private readonly polls = new Set<Promise<void>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly tickMs = 250,
  ) {}

  /**
   * Start polling in the background on a real timer. Each tick re-reads the schedule; a finished
   * poll frees its provider's slot for the next queued task at once, so slow providers never hold
   * up fast ones and no tick waits for the slowest call.
   */
  start(): void {
    this.stopped = false;
    recoverInterrupted(this.ctx);
    const loop = () => {
      if (this.stopped) return;
      try {
        this.refill();
      } catch (err) {
        this.ctx.log.error({ err }, 'poller tick failed');
      }
      this.timer = setTimeout(loop, this.tickMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stop launching; resolves when the polls in flight are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.queues.clear();
    while (this.polls.size) await Promise.all(this.polls);
  }

  /** Poll every task due now (a bounded batch per provider) and wait until those polls are done. Tests call this. */
  async runDue(): Promise<number> {
    const count = this.refill();
    while (this.polls.size) await Promise.all(this.polls);
    return count;
  }

  /** Read what is due (a bounded batch per provider, through the index) and launch within free slots. */
  private refill(): number {
    const { store, config } = this.ctx;
    const now = this.ctx.now();
    if (now - this.lastHousekeeping >= HOUSEKEEPING_MS) {
      this.lastHousekeeping = now;
      store.idempotency.purgeBefore(now - IDEMPOTENCY_TTL_MS);
    }
    const queues = new Map<string, string[]>();
    let count = 0;
    // Per provider: a hanging provider's backlog fills only its own batch, never another's.
    for (const { id, provider } of store.tasks.dueByProvider(now, config.polling.batch)) {
      if (this.ctx.inFlight.has(id)) continue;
      const key = provider ?? '';
      const queue = queues.get(key);
      if (queue) queue.push(id);
      else queues.set(key, [id]);
      count++;
    }
    this.queues = queues;
    for (const key of queues.keys()) this.pump(key);
    return count;
  }

  /** Launch queued polls for one provider while it has free slots. */
  private pump(key: string): void {
    const queue = this.queues.get(key);
    const limit = this.ctx.config.polling.per_provider_concurrency;
    while (queue?.length && (this.active.get(key) ?? 0) < limit) {
      const id = queue.shift()!;
      if (this.ctx.inFlight.has(id)) continue;
      this.active.set(key, (this.active.get(key) ?? 0) + 1);
      this.ctx.inFlight.add(id);
      const poll = this.pollSafely(id).finally(() => {
        this.active.set(key, (this.active.get(key) ?? 1) - 1);
        this.ctx.inFlight.delete(id);
        this.polls.delete(poll);
        this.pump(key);
      });
      this.polls.add(poll);
    }
  }

  private async pollSafely(id: string): Promise<void> {
    try {
      await this.pollOne(id);
    } catch (err) {
      this.ctx.log.error({ err, task: id }, 'poll failed');
      this.reschedule(id);
    }
  }

  /**
   * A status pushed by the provider (inbound webhook) for an attempt. Applied at once unless the
   * task is being worked on right now (then the poll in progress covers it). Duplicates and late
   * events for ended tasks or superseded attempts are harmless no-ops. Returns whether it was applied.
   */
  async applyEvent(attemptId: string, status: UpstreamStatus): Promise<boolean> {
    const attempt = this.ctx.store.tasks.attempts(this.ctx.store.tasks.attemptTask(attemptId) ?? '').at(-1);
    if (!attempt || attempt.id !== attemptId || !attempt.upstreamId) return false;
    // Webhooks only move a live attempt on: one the gateway ended (failed over, unknown) stays ended.
    if (attempt.status !== 'pending' && attempt.status !== 'processing') return false;
    const task = this.ctx.store.tasks.get(attempt.taskId);
    if (!task || TERMINAL.has(task.status) || this.ctx.inFlight.has(task.id)) return false;
    // The upstream already completed and the mirror ends the task: a late event must not reschedule it.
    if (this.ctx.mirror?.owns(task.id)) return false;
    this.ctx.inFlight.add(task.id);
    try {
      await this.apply(task, attempt, status);
      return true;
    } finally {
      this.ctx.inFlight.delete(task.id);
    }
  }

  /** Look at one task and move it on. */
  async pollOne(taskId: string): Promise<void> {
    const task = this.ctx.store.tasks.get(taskId);
    if (!task || TERMINAL.has(task.status) || task.nextPollAt === null) return;
    // Its completion waits in the output mirror: no status read, no failover; off the schedule again.
    if (this.ctx.mirror?.owns(taskId)) return this.ctx.store.tasks.update(taskId, { nextPollAt: null });
    const attempt = this.ctx.store.tasks.attempts(taskId).at(-1);
    const provider = task.provider ? providerById(this.ctx, task.provider) : undefined;
    if (!attempt || !provider) return this.failOver(task, attempt, 'provider_removed', 'the provider is no longer configured');
    // Ended attempt, no successor written yet: the process stopped mid-failover; carry on with it.
    if (attempt.status === 'failed' || attempt.status === 'unknown') {
      return this.failOver(task, undefined, attempt.errorCode ?? 'upstream_failed', attempt.errorMessage ?? 'the previous attempt failed');
    }
    if (attempt.status === 'submitting' || !attempt.upstreamId) return this.reconcile(task, attempt);
    let status: UpstreamStatus;
    try {
      status = await provider.adapter.status(refOf(task, attempt.upstreamId, attempt.upstreamHandle));
    } catch (err) {
      // Only consecutive "not found" reads mean lost: one transient 404 between answers is noise, and
      // failing over while the first upstream still runs would pay two providers.
      if (err instanceof ProviderError && err.kind === 'not_found') {
        const streak = task.notFoundStreak + 1;
        if (streak >= NOT_FOUND_LIMIT) return this.failOver(task, attempt, 'upstream_lost', `the upstream no longer knows task ${attempt.upstreamId}`);
        return this.reschedule(taskId, task, { notFoundStreak: streak });
      }
      return this.reschedule(taskId, task);
    }
    await this.apply(task, attempt, status, true);
  }

  /** Move a task on from a status; `read` when it came from our own status read (not a webhook). */
  private async apply(task: TaskRow, attempt: AttemptRow, status: UpstreamStatus, read = false): Promise<void> {
    switch (status.state) {
      case 'completed':
        await this.complete(task, attempt, status);
        return;
      case 'failed': {
        const err = status.error ?? { code: 'upstream_failed', message: 'the upstream task failed', providerSide: true };
        if (err.providerSide) return this.failOver(task, attempt, err.code, err.message);
        // Moderation or input refused while running: the provider works (learned rejection rate).
        this.ctx.health.rejected(attempt.providerId, task.model);
        // The attempt and the task end together: a crash in between would fail over an input the upstream rejected.
        finishFailed(this.ctx, task.id, 'upstream_rejected', `${attempt.providerId}: ${err.message}`, { id: attempt.id, errorCode: err.code, errorMessage: err.message });
        return;
      }
      case 'cancelled':
        finishCancelled(this.ctx, task.id, attempt.id);
        return;
      default: {
        const now = this.ctx.now();
        const running = status.state === 'processing';
        if (running && attempt.status !== 'processing') this.ctx.store.tasks.updateAttempt(attempt.id, { status: 'processing', updatedAt: now });
        this.reschedule(
          task.id,
          task,
          {
            ...(running && task.status !== 'processing' ? { status: 'processing' as const } : {}),
            // Progress only grows: a late or out-of-order report never moves it back.
            ...(status.progress !== undefined && status.progress > task.progress ? { progress: Math.min(99, status.progress) } : {}),
            ...(read && task.notFoundStreak !== 0 ? { notFoundStreak: 0 } : {}),
          },
          attempt,
        );
      }
    }
  }

  /**
   * Completed upstream: the completion path. Learn how much was produced, then charge it (capped at
   * the hold), refund the rest and book what the provider bills (never capped).
   */
  async complete(task: TaskRow, attempt: AttemptRow, status: UpstreamStatus): Promise<void> {
    // Mirrored outputs: the mirror stores the results first and replays this call with our URLs.
    if (this.ctx.mirror?.defer(task, attempt, status)) return;
    const usage = await measureUsage(this.ctx, task, status);
    // One failed header read must not decide the charge (the quote is the most the key can pay): try again.
    const failures = (this.probeFailures.get(task.id) ?? 0) + (usage.probeFailed ? 1 : 0);
    if (usage.probeFailed && failures < PROBE_TRIES) {
      this.probeFailures.set(task.id, failures);
      return this.reschedule(task.id, task, {}, attempt);
    }
    this.probeFailures.delete(task.id);
    const ended = finishCompleted(this.ctx, task, attempt, status, usage);
    if (!ended) return;
    this.ctx.health.success(attempt.providerId, task.model);
    this.ctx.health.completed(attempt.providerId, task.model, (this.ctx.now() - attempt.createdAt) / 1000);
    if (ended !== true) {
      this.ctx.log.warn({ task: task.id, provider: attempt.providerId, billed: ended.billedUnits, produced: ended.producedUnits }, 'task produced more than it was billed for');
      this.ctx.onUnderbilled?.(ended);
    }
  }

  /** The current attempt failed provider-side: try the next provider under the same task id. */
  private async failOver(task: TaskRow, attempt: AttemptRow | undefined, code: string, message: string): Promise<void> {
    if (attempt) {
      this.endAttempt(task.id, attempt.id, 'failed', code, message);
      this.ctx.health.failure(attempt.providerId, task.model);
      this.ctx.log.warn({ task: task.id, provider: attempt.providerId, code, err: message }, 'attempt failed provider-side; failing over');
    }
    const outcome = await dispatch(this.ctx, task.id);
    if (outcome.kind === 'rejected') finishFailed(this.ctx, task.id, 'upstream_rejected', outcome.message, outcome.attempt);
    // `message` may be the provider's own words (account, prices): the task's error gets a fixed text.
    const first = `${attempt?.providerId ?? task.provider ?? 'provider'}: ${providerFailureText(code)}`;
    if (outcome.kind === 'exhausted') finishFailed(this.ctx, task.id, 'upstream_failed', `${first}; ${outcome.reasons.join('; ')}`);
  }

  /**
   * An attempt was left `submitting` (the process stopped between writing the intent and hearing
   * back). Ask the provider when it can tell; otherwise record the outcome as unknown and move on.
   */
  private async reconcile(task: TaskRow, attempt: AttemptRow): Promise<void> {
    const adapter = providerById(this.ctx, attempt.providerId)?.adapter;
    if (adapter?.findByAttemptId) {
      const ref = refOf(task, '');
      try {
        const found = await adapter.findByAttemptId(attempt.id, ref.model, ref.quality);
        if (found) return accept(this.ctx, task.id, attempt, found, task.model);
        // As with status reads: only "not found" lookups in a row mean the create never landed.
        const streak = task.notFoundStreak + 1;
        if (streak < NOT_FOUND_LIMIT) return this.reschedule(task.id, task, { notFoundStreak: streak });
        return this.failOver(task, attempt, 'not_created', 'the create never reached the provider');
      } catch (err) {
        // A passing outage: ask again later, a bounded number of times; "cannot tell" ends the asking.
        const cannotTell = err instanceof ProviderError && err.kind === 'unknown_outcome';
        if (!cannotTell && task.polls < RECONCILE_TRIES) return this.reschedule(task.id, task);
      }
    }
    this.endAttempt(task.id, attempt.id, 'unknown', 'unknown_outcome', 'the gateway stopped before the provider answered');
    await this.failOver(task, undefined, 'unknown_outcome', 'the gateway stopped before the provider answered');
  }

  /**
   * End an attempt before the next one starts. The task's counters start again with it: a not-found
   * streak or a poll count belongs to one upstream task (the reconcile budget reads `polls`).
   */
  private endAttempt(taskId: string, attemptId: string, status: 'failed' | 'unknown', code: string, message: string): void {
    const now = this.ctx.now();
    this.ctx.store.transaction(() => {
      this.ctx.store.tasks.updateAttempt(attemptId, { status, errorCode: code, errorMessage: message, updatedAt: now });
      this.ctx.store.tasks.update(taskId, { polls: 0, notFoundStreak: 0 });
    });
  }

  /** Poll again later, backing off with each poll of this task. */
  private reschedule(taskId: string, task = this.ctx.store.tasks.get(taskId), patch: Partial<TaskRow> = {}, attempt?: AttemptRow): void {
    if (!task) return;
    const { initial_ms, max_ms } = this.ctx.config.polling;
    const now = this.ctx.now();
    const backoff = Math.min(max_ms, Math.round(initial_ms * 1.5 ** Math.min(task.polls, 20)));
    const delay = attempt ? pollDelay(this.ctx, backoff, attempt) : backoff;
    this.ctx.store.transaction(() => {
      const fresh = this.ctx.store.tasks.get(taskId);
      if (!fresh || TERMINAL.has(fresh.status)) return;
      const visible = Object.keys(patch).some((k) => k !== 'notFoundStreak');
      this.ctx.store.tasks.update(taskId, { ...patch, nextPollAt: now + delay, polls: task.polls + 1, ...(visible ? { updatedAt: now } : {}) });
    });
  }
}
