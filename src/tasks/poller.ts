/**
 * The durable poller: follows every task to its end. Its schedule is `tasks.next_poll_at` in
 * SQLite (so it resumes after a restart), read through an index in bounded batches per provider;
 * each task backs off on its own; each provider gets a bounded number of concurrent status calls.
 */
import { ProviderError, type UpstreamStatus } from '../../providers/types.ts';
import type { AttemptRow, TaskRow } from '../db/schema/index.ts';
import { LIVE_ATTEMPT, TERMINAL, providerById, refOf, type EngineContext } from './context.ts';
import { accept, dispatch, pollDelay } from './dispatch.ts';
import { finishCancelled, finishCompleted, finishFailed, measureUsage } from './finish.ts';
import { IDEMPOTENCY_TTL_MS } from './idempotency.ts';
import { recoverInterrupted } from './recover.ts';
import { providerFailureText } from './client-errors.ts';
import { LEASE_MS } from '../leases.ts';

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
  async start(): Promise<void> {
    this.stopped = false;
    await recoverInterrupted(this.ctx);
    const loop = () => {
      if (this.stopped) return;
      this.refill()
        .catch((err: unknown) => this.ctx.log.error({ err }, 'poller tick failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.tickMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stop launching; resolves when the polls in flight are done. Claimed but unlaunched tasks are due again at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const unlaunched = [...this.queues.values()].flat();
    this.queues.clear();
    const at = this.ctx.now();
    for (const id of unlaunched) await this.ctx.store.tasks.update(id, { nextPollAt: at, leaseOwner: null });
    while (this.polls.size) await Promise.all(this.polls);
  }

  /** Poll every task due now (a bounded batch per provider) and wait until those polls are done. Tests call this. */
  async runDue(): Promise<number> {
    const count = await this.refill();
    while (this.polls.size) await Promise.all(this.polls);
    return count;
  }

  /**
   * Claim what is due (a bounded batch per provider, through the index) and launch within free slots.
   * A claim is a lease (src/leases.ts): no other replica polls these tasks until this one reschedules
   * them or the lease runs out. A provider whose queue is still full claims nothing more this tick.
   */
  private async refill(): Promise<number> {
    const { store, config } = this.ctx;
    const now = this.ctx.now();
    if (now - this.lastHousekeeping >= HOUSEKEEPING_MS) {
      this.lastHousekeeping = now;
      await store.idempotency.purgeBefore(now - IDEMPOTENCY_TTL_MS);
    }
    let count = 0;
    // Per provider: a hanging provider's backlog fills only its own batch, never another's.
    for (const { id, provider } of await store.tasks.claimDue(now, config.polling.batch, this.ctx.replicaId, LEASE_MS)) {
      if (this.ctx.inFlight.has(id)) continue;
      const key = provider ?? '';
      const queue = this.queues.get(key);
      if (queue) queue.push(id);
      else this.queues.set(key, [id]);
      count++;
    }
    for (const key of this.queues.keys()) this.pump(key);
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
      await this.reschedule(id).catch((e: unknown) => this.ctx.log.error({ err: e, task: id }, 'reschedule failed'));
    }
  }

  /**
   * A status pushed by the provider (inbound webhook) for an attempt. Applied at once unless the
   * task is being worked on right now (then the poll in progress covers it). Duplicates and late
   * events for ended tasks or superseded attempts are harmless no-ops. Returns whether it was applied.
   */
  async applyEvent(attemptId: string, status: UpstreamStatus): Promise<boolean> {
    const { store } = this.ctx;
    const attempt = (await store.tasks.attempts((await store.tasks.attemptTask(attemptId)) ?? '')).at(-1);
    if (!attempt || attempt.id !== attemptId || !attempt.upstreamId) return false;
    // Webhooks only move a live attempt on: one the gateway ended (failed over, unknown) stays ended.
    if (attempt.status !== 'pending' && attempt.status !== 'processing') return false;
    const task = await store.tasks.get(attempt.taskId);
    if (!task || TERMINAL.has(task.status) || this.ctx.inFlight.has(task.id)) return false;
    // Another replica is polling it right now: that poll reads the same state.
    if (task.leaseOwner !== null && task.leaseOwner !== this.ctx.replicaId && (task.nextPollAt ?? 0) > this.ctx.now()) return false;
    // The upstream already completed and the mirror ends the task: a late event must not reschedule it.
    if (await this.ctx.mirror?.owns(task.id)) return false;
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
    const task = await this.ctx.store.tasks.get(taskId);
    if (!task || TERMINAL.has(task.status) || task.nextPollAt === null) return;
    // Its completion waits in the output mirror: no status read, no failover; off the schedule again.
    if (await this.ctx.mirror?.owns(taskId)) return this.ctx.store.tasks.update(taskId, { nextPollAt: null, leaseOwner: null });
    const attempt = (await this.ctx.store.tasks.attempts(taskId)).at(-1);
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
        await finishFailed(this.ctx, task.id, 'upstream_rejected', `${attempt.providerId}: ${err.message}`, { id: attempt.id, errorCode: err.code, errorMessage: err.message });
        return;
      }
      case 'cancelled':
        await finishCancelled(this.ctx, task.id, attempt.id);
        return;
      default: {
        const now = this.ctx.now();
        const running = status.state === 'processing';
        if (running && attempt.status !== 'processing') await this.ctx.store.tasks.updateAttempt(attempt.id, { status: 'processing', updatedAt: now });
        await this.reschedule(
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
    if (await this.ctx.mirror?.defer(task, attempt, status)) return;
    const usage = await measureUsage(this.ctx, task, status);
    // One failed header read must not decide the charge (the quote is the most the key can pay): try again.
    const failures = (this.probeFailures.get(task.id) ?? 0) + (usage.probeFailed ? 1 : 0);
    if (usage.probeFailed && failures < PROBE_TRIES) {
      this.probeFailures.set(task.id, failures);
      return this.reschedule(task.id, task, {}, attempt);
    }
    this.probeFailures.delete(task.id);
    const ended = await finishCompleted(this.ctx, task, attempt, status, usage);
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
      // Only the path that ended the attempt fails over (a webhook on another replica may race a poll).
      if (!(await this.endAttempt(task.id, attempt.id, 'failed', code, message))) return;
      this.ctx.health.failure(attempt.providerId, task.model);
      this.ctx.log.warn({ task: task.id, provider: attempt.providerId, code, err: message }, 'attempt failed provider-side; failing over');
    }
    const outcome = await dispatch(this.ctx, task.id);
    if (outcome.kind === 'rejected') await finishFailed(this.ctx, task.id, 'upstream_rejected', outcome.message, outcome.attempt);
    // `message` may be the provider's own words (account, prices): the task's error gets a fixed text.
    const first = `${attempt?.providerId ?? task.provider ?? 'provider'}: ${providerFailureText(code)}`;
    // Unless another replica started an attempt meanwhile: that one runs the task now.
    if (outcome.kind === 'exhausted') await finishFailed(this.ctx, task.id, 'upstream_failed', `${first}; ${outcome.reasons.join('; ')}`, undefined, { unlessLive: true });
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
    if (!(await this.endAttempt(task.id, attempt.id, 'unknown', 'unknown_outcome', 'the gateway stopped before the provider answered'))) return;
    await this.failOver(task, undefined, 'unknown_outcome', 'the gateway stopped before the provider answered');
  }

  /**
   * End an attempt before the next one starts. The task's counters start again with it: a not-found
   * streak or a poll count belongs to one upstream task (the reconcile budget reads `polls`).
   * Answers false, writing nothing, when the attempt is no longer the task's live one: another path
   * (a webhook, another replica) ended it first and fails over itself.
   */
  private endAttempt(taskId: string, attemptId: string, status: 'failed' | 'unknown', code: string, message: string): Promise<boolean> {
    const now = this.ctx.now();
    return this.ctx.store.transaction(async (tx) => {
      const task = await tx.tasks.getForUpdate(taskId);
      const latest = (await tx.tasks.attempts(taskId)).at(-1);
      if (!task || TERMINAL.has(task.status) || latest?.id !== attemptId || !LIVE_ATTEMPT.has(latest.status)) return false;
      await tx.tasks.updateAttempt(attemptId, { status, errorCode: code, errorMessage: message, updatedAt: now });
      await tx.tasks.update(taskId, { polls: 0, notFoundStreak: 0 });
      return true;
    });
  }

  /** Poll again later, backing off with each poll of this task. */
  private async reschedule(taskId: string, known?: TaskRow, patch: Partial<TaskRow> = {}, attempt?: AttemptRow): Promise<void> {
    const task = known ?? (await this.ctx.store.tasks.get(taskId));
    if (!task) return;
    const { initial_ms, max_ms } = this.ctx.config.polling;
    const now = this.ctx.now();
    const backoff = Math.min(max_ms, Math.round(initial_ms * 1.5 ** Math.min(task.polls, 20)));
    const delay = attempt ? pollDelay(this.ctx, backoff, attempt) : backoff;
    await this.ctx.store.transaction(async (tx) => {
      const fresh = await tx.tasks.getForUpdate(taskId);
      if (!fresh || TERMINAL.has(fresh.status)) return;
      const visible = Object.keys(patch).some((k) => k !== 'notFoundStreak');
      await tx.tasks.update(taskId, { ...patch, nextPollAt: now + delay, leaseOwner: null, polls: task.polls + 1, ...(visible ? { updatedAt: now } : {}) });
    });
  }
}
