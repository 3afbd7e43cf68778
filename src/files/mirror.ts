/**
 * Mirrored outputs (CONTRACT §8): when a motion-control task completes upstream, its results are
 * downloaded into the file store before the task is marked `completed` (and its callback sent).
 *
 * The poller hands the completion to {@link OutputMirror.defer}, which records a job in SQLite (so a
 * restart resumes it) and takes the task off the poll schedule. The mirror's own queue runs jobs
 * with bounded concurrency and per-job backoff; when a job is decided (stored, or given up after
 * retries) it replays the completion through the poller with the gateway's URLs (or the upstream's).
 * Money is the poller's business: the mirror only changes which URLs the completion carries.
 */
import { LEASE_MS } from '../leases.ts';
import { Counter } from 'prom-client';
import type { UpstreamStatus } from '../../providers/types.ts';
import type { AttemptRow, FileRow, MirrorJobRow, TaskRow } from '../db/schema/index.ts';
import { TERMINAL, type EngineContext } from '../tasks/context.ts';
import { DownloadError, downloadInto } from './download.ts';

/** Replays an upstream completion into the task (the poller's completion path). */
export type CompleteFn = (task: TaskRow, attempt: AttemptRow, status: UpstreamStatus) => Promise<void>;

/** One entry of a task's `result_files`. */
export interface ResultFile {
  id: string;
  url: string | null;
  bytes: number;
  sha256: string;
  duration_s: number | null;
  upstream_url: string;
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;
const TICK_MS = 1_000;
/** Wait before replaying a completion the poller put off (its output header could not be read). */
const REPLAY_RETRY_MS = 5_000;

export class OutputMirror {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly running = new Map<string, Promise<void>>();
  /** Jobs that failed for good, since start. */
  gaveUp = 0;
  /** `reelroute_output_mirrors_total{outcome=mirrored|retry|failed}` on the app's registry. */
  private readonly outcomes: Counter<'outcome'>;

  constructor(
    private readonly ctx: EngineContext,
    private readonly complete: CompleteFn,
  ) {
    const name = 'reelroute_output_mirrors_total';
    const registry = ctx.metrics.registry;
    this.outcomes =
      (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
      new Counter({ name, help: 'Output mirror tries by outcome (failed: the task completed with the upstream URLs)', labelNames: ['outcome'], registers: [registry] });
  }

  /** Whether completed motion-control results are mirrored now (needs a base for the URLs). */
  enabled(): boolean {
    return this.ctx.config.files.mirror_outputs && this.ctx.files.base() !== null;
  }

  /**
   * Whether the task's completion waits in a mirror job not done yet. The poller then leaves the task
   * alone (no status reads, webhooks or failover): the upstream has answered and the mirror ends it.
   */
  async owns(taskId: string): Promise<boolean> {
    const job = await this.ctx.store.files.job(taskId);
    return job !== undefined && job.doneAt === null;
  }

  /**
   * Called by the poller with an upstream completion. True: the mirror owns the completion now (it
   * will replay it); false: complete the task at once (nothing to mirror, or the mirror is decided).
   */
  async defer(task: TaskRow, attempt: AttemptRow, status: UpstreamStatus): Promise<boolean> {
    const { store } = this.ctx;
    const job = await store.files.job(task.id);
    if (job) {
      // Decided: this is the mirror's own replay (or the job is over); the completion goes on.
      if (job.outcome !== null) return false;
      // Still undecided: the mirror finishes the task; it stays off the poll schedule.
      await store.tasks.update(task.id, { nextPollAt: null, leaseOwner: null, updatedAt: this.ctx.now() });
      return true;
    }
    if (task.model !== 'kling-v3-motion-control' || !status.outputs?.length || !this.enabled()) return false;
    const now = this.ctx.now();
    try {
      await store.transaction(async (tx) => {
        await tx.files.insertJob({
          taskId: task.id,
          attemptId: attempt.id,
          upstreamStatus: JSON.stringify(status),
          outcome: null,
          fileIds: '[]',
          tries: 0,
          nextAt: now,
          lastError: null,
          doneAt: null,
          leaseOwner: null,
          createdAt: now,
          updatedAt: now,
        });
        // Off the poll schedule: the upstream has answered; the mirror finishes the task.
        await tx.tasks.update(task.id, { nextPollAt: null, leaseOwner: null, updatedAt: now });
      });
    } catch (err) {
      // Another path (a webhook or a poll on another replica) deferred the same completion first: its job owns it.
      if (await store.files.job(task.id)) return true;
      throw err;
    }
    // Once the poll that called us has let go of the task (its inFlight mark).
    setImmediate(() => void this.pump());
    return true;
  }

  /** Run due jobs on a timer (retries after backoff, jobs left by a restart). */
  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      void this.pump().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, TICK_MS);
      });
    };
    loop();
  }

  /** Stop taking jobs; resolves when the ones running have stopped (their state is in SQLite). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running.size) await Promise.all(this.running.values());
  }

  /** Start what is due and wait until nothing runs (tests). */
  async runDue(): Promise<void> {
    await this.pump();
    while (this.running.size) await Promise.all(this.running.values());
  }

  /**
   * Claim due jobs up to the free slots and run them. A claim is a lease as long as a job's downloads
   * may take, so replicas never mirror one task twice; a dead replica's jobs are due again after it.
   */
  private async pump(): Promise<void> {
    if (this.stopped) return;
    const { config } = this.ctx;
    const limit = config.files.mirror_concurrency;
    const free = limit - this.running.size;
    if (free <= 0) return;
    let due: MirrorJobRow[];
    try {
      due = (await this.ctx.store.files.dueJobs(this.ctx.now(), free)).length
        ? await this.ctx.store.files.claimJobs(this.ctx.now(), free, this.ctx.replicaId, LEASE_MS)
        : [];
    } catch (err) {
      // The database closed under a late tick (shutdown without stop()); the jobs wait in SQLite.
      this.ctx.log.warn({ err }, 'output mirror could not read its queue');
      return;
    }
    for (const job of due) {
      if (this.running.size >= limit) break;
      if (this.running.has(job.taskId) || this.ctx.inFlight.has(job.taskId)) continue;
      this.ctx.inFlight.add(job.taskId);
      // Downloads can outlast a lease: renew it while this replica works on the job.
      const renew = setInterval(() => {
        this.ctx.store.files.renewJob(job.taskId, this.ctx.replicaId, this.ctx.now() + LEASE_MS).catch(() => undefined);
      }, LEASE_MS / 4);
      const run = this.run(job)
        .catch((err: unknown) => this.ctx.log.error({ err, task: job.taskId }, 'output mirror failed'))
        .finally(() => {
          clearInterval(renew);
          this.ctx.inFlight.delete(job.taskId);
          this.running.delete(job.taskId);
          void this.pump();
        });
      this.running.set(job.taskId, run);
    }
  }

  private async run(job: MirrorJobRow): Promise<void> {
    const { store } = this.ctx;
    const task = await store.tasks.get(job.taskId);
    const attempt = task ? (await store.tasks.attempts(task.id)).at(-1) : undefined;
    if (!task || TERMINAL.has(task.status)) {
      await store.files.updateJob(job.taskId, { doneAt: this.ctx.now(), updatedAt: this.ctx.now() });
      return;
    }
    if (attempt?.id !== job.attemptId) {
      // The job's attempt is gone or no longer the task's latest: its completion must not end the
      // task (another upstream task would be billed and dropped). Hand the task back to the poller.
      await store.transaction(async (tx) => {
        await tx.files.updateJob(job.taskId, { outcome: job.outcome ?? 'failed', doneAt: this.ctx.now(), lastError: 'attempt superseded', updatedAt: this.ctx.now() });
        await tx.tasks.update(task.id, { nextPollAt: this.ctx.now(), updatedAt: this.ctx.now() });
      });
      return;
    }
    const status = JSON.parse(job.upstreamStatus) as UpstreamStatus;
    let outcome = job.outcome;
    if (outcome === null) {
      outcome = await this.download(job, task, status);
      if (outcome === null) return; // retry later
    }
    const urls = outcome === 'mirrored' ? (await this.storedFiles(job.taskId)).map((f) => this.ctx.files.urlOf(f)) : [];
    // Our URLs only when every output has one: with no public base (a restart without
    // public_base_url) the upstream's URLs are the ones that can still serve.
    const ours = urls.length > 0 && urls.length === (status.outputs?.length ?? 0) && urls.every((u) => u !== null);
    const replay = ours ? { ...status, outputs: urls as string[] } : status;
    // Re-read: the task may have ended (cancelled) while its outputs downloaded.
    const fresh = await store.tasks.get(task.id);
    if (fresh && !TERMINAL.has(fresh.status)) {
      await this.complete(fresh, attempt, replay);
      const after = await store.tasks.get(task.id);
      if (after && !TERMINAL.has(after.status)) {
        // The poller put the completion off (its output header could not be read; it bounds the
        // tries): replay it again later. The task stays ours, off the poll schedule, so its
        // results can never come from another completion than this one.
        const now = this.ctx.now();
        await store.transaction(async (tx) => {
          await tx.files.updateJob(job.taskId, { nextAt: now + REPLAY_RETRY_MS, leaseOwner: null, updatedAt: now });
          await tx.tasks.update(task.id, { nextPollAt: null });
        });
        return;
      }
    }
    await store.files.updateJob(job.taskId, { doneAt: this.ctx.now(), leaseOwner: null, updatedAt: this.ctx.now() });
  }

  /** Store each output not stored yet. Returns the decided outcome, or null to try again later. */
  private async download(job: MirrorJobRow, task: TaskRow, status: UpstreamStatus): Promise<'mirrored' | 'failed' | null> {
    const { store, config } = this.ctx;
    const ids = JSON.parse(job.fileIds) as string[];
    const outputs = status.outputs ?? [];
    try {
      for (let i = ids.length; i < outputs.length; i++) {
        const row = await downloadInto(outputs[i]!, {
          guard: this.ctx.guard,
          files: this.ctx.files,
          timeoutMs: config.files.download_timeout_ms,
          meta: { keyId: task.keyId, purpose: 'output', maxBytes: config.files.max_output_bytes, taskId: task.id, upstreamUrl: outputs[i]! },
        });
        ids.push(row.id);
        await store.files.updateJob(job.taskId, { fileIds: JSON.stringify(ids), updatedAt: this.ctx.now() });
      }
    } catch (err) {
      const tries = job.tries + 1;
      const permanent = err instanceof DownloadError && err.permanent;
      const message = err instanceof Error ? err.message : String(err);
      if (!permanent && tries < config.files.mirror_max_tries) {
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (tries - 1));
        await store.files.updateJob(job.taskId, { tries, lastError: message, nextAt: this.ctx.now() + delay, leaseOwner: null, updatedAt: this.ctx.now() });
        this.outcomes.inc({ outcome: 'retry' });
        return null;
      }
      this.ctx.log.warn({ task: task.id, tries, err: message }, 'output mirror gave up; completing with the upstream URLs');
      this.gaveUp++;
      this.outcomes.inc({ outcome: 'failed' });
      await store.files.updateJob(job.taskId, { tries, lastError: message, outcome: 'failed', updatedAt: this.ctx.now() });
      return 'failed';
    }
    const files = await this.storedFiles(job.taskId, ids);
    const resultFiles: ResultFile[] = files.map((f, i) => ({
      id: f.id,
      url: this.ctx.files.urlOf(f),
      bytes: f.bytes,
      sha256: f.sha256,
      duration_s: f.durationS,
      upstream_url: outputs[i]!,
    }));
    await store.transaction(async (tx) => {
      await tx.tasks.update(task.id, { resultFiles: JSON.stringify(resultFiles) });
      await tx.files.updateJob(job.taskId, { outcome: 'mirrored', updatedAt: this.ctx.now() });
    });
    this.outcomes.inc({ outcome: 'mirrored' });
    return 'mirrored';
  }

  private async storedFiles(taskId: string, ids?: string[]): Promise<FileRow[]> {
    const list = ids ?? (JSON.parse((await this.ctx.store.files.job(taskId))?.fileIds ?? '[]') as string[]);
    const rows = await Promise.all(list.map((id) => this.ctx.store.files.get(id)));
    return rows.filter((f): f is FileRow => f !== undefined);
  }
}
