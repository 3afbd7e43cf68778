/**
 * Learned health per provider × model, from real outcomes: a circuit breaker (opens after repeated
 * provider-side failures, half-opens after a cooldown and lets one trial through), the success and
 * input-rejection rates over a sliding window, and p50/p95 time to completion. Kept in the database
 * (written behind, about once a second, and on close) so a restart remembers what was learned.
 */
import type { ProviderHealthRow } from '../db/schema/index.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Health as the admin API shows it. Times are ms since the epoch, durations seconds. */
export interface HealthSnapshot {
  state: BreakerState;
  /** Successes / (successes + provider failures) over the window; null before any outcome. */
  success_rate: number | null;
  /** Input rejections (invalid request, moderation) / all outcomes over the window. */
  rejection_rate: number | null;
  p50_completion_s: number | null;
  p95_completion_s: number | null;
  /** Completions the percentiles are computed from. */
  completions: number;
  consecutive_failures: number;
  open_until: number | null;
  /** When a half-open trial may next be sent (equals open_until while open). */
  next_probe_at: number | null;
}

/** Outcome codes in the window: success, provider failure, input rejected. */
type Outcome = 's' | 'f' | 'r';

/**
 * What {@link HealthTracker.begin} hands back. Pass it to the verdict (success, failure, rejected) and
 * to release: only the request that took a half-open trial frees it, so a request sent while the
 * circuit was closed cannot, by ending later, let a second trial through.
 */
export interface Admission {
  /** False: the circuit is open, or half-open with its one trial already out; do not send. */
  readonly admitted: boolean;
  /** Why not admitted (a routing reason), null when admitted. */
  readonly reason: string | null;
}

const CLOSED_ADMISSION: Admission = Object.freeze({ admitted: true, reason: null });

interface Entry {
  consecutiveFailures: number;
  openUntil: number | null;
  /** The admission holding the half-open trial (others wait for its outcome). Not persisted: a restart frees it. */
  trial: Admission | null;
  outcomes: string;
  completions: number[];
}

/** Outcomes and completion times remembered per provider × model. */
const WINDOW = 100;
const FLUSH_MS = 1_000;

/** Where health is kept between runs, and shared between replicas. */
export interface HealthPersistence {
  all(): Promise<ProviderHealthRow[]>;
  /** Write rows (one transaction). */
  put(rows: readonly ProviderHealthRow[]): Promise<void>;
}

export interface HealthOptions {
  failuresToOpen: number;
  cooldownMs: number;
  now: () => number;
  persistence?: HealthPersistence;
  /** Told when a write-behind flush fails (the next change retries it). */
  onError?: (err: unknown) => void;
}

export class HealthTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private flushing: Promise<void> = Promise.resolve();
  /** The newest `updatedAt` read or written: rows at or before it are already known here. */
  private seen = -Infinity;

  constructor(private readonly opts: HealthOptions) {}

  /**
   * Load what is stored (at start), then again to pick up what other replicas learned: a row written
   * since the last look replaces this replica's entry unless this replica has unsaved changes to it.
   */
  async refresh(): Promise<void> {
    let newest = this.seen;
    for (const row of (await this.opts.persistence?.all()) ?? []) {
      newest = Math.max(newest, row.updatedAt);
      if (row.updatedAt <= this.seen) continue;
      const key = keyOf(row.provider, row.model);
      if (this.dirty.has(key)) continue;
      const trial = this.entries.get(key)?.trial ?? null;
      this.entries.set(key, {
        consecutiveFailures: row.consecutiveFailures,
        openUntil: row.openUntil,
        trial,
        outcomes: row.outcomes,
        completions: JSON.parse(row.completions) as number[],
      });
    }
    this.seen = newest;
  }

  private entry(provider: string, model: string): Entry {
    const key = keyOf(provider, model);
    let e = this.entries.get(key);
    if (!e) {
      e = { consecutiveFailures: 0, openUntil: null, trial: null, outcomes: '', completions: [] };
      this.entries.set(key, e);
    }
    return e;
  }

  state(provider: string, model: string): BreakerState {
    const e = this.entries.get(keyOf(provider, model));
    if (!e || e.openUntil === null) return 'closed';
    return this.opts.now() < e.openUntil ? 'open' : 'half_open';
  }

  /** Whether a new request may go to this provider now (false while open or a trial is out). */
  allows(provider: string, model: string): boolean {
    const state = this.state(provider, model);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return this.entry(provider, model).trial === null;
  }

  /**
   * Call in the same turn as sending (no await between): admits the request and, on a half-open
   * circuit, claims its one trial. `allows` is only a hint for ranking; a caller that awaited since
   * must honour `admitted` here, since another request may have taken the trial meanwhile.
   */
  begin(provider: string, model: string): Admission {
    const state = this.state(provider, model);
    if (state === 'closed') return CLOSED_ADMISSION;
    if (state === 'open') return { admitted: false, reason: 'circuit open after repeated failures' };
    const e = this.entry(provider, model);
    if (e.trial) return { admitted: false, reason: 'circuit half-open: trial in flight' };
    e.trial = { admitted: true, reason: null };
    return e.trial;
  }

  /** The create was accepted: closes the circuit. `by` frees the trial if it holds it. */
  success(provider: string, model: string, by?: Admission): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures = 0;
    e.openUntil = null;
    this.free(e, by);
    this.record(provider, model, e, 's');
  }

  /**
   * The provider answered and refused the input (invalid request, moderation): it is up, so a
   * circuit closes as on a success; it counts in the rejection rate, not against success.
   */
  rejected(provider: string, model: string, by?: Admission): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures = 0;
    e.openUntil = null;
    this.free(e, by);
    this.record(provider, model, e, 'r');
  }

  /** The request `by` admitted is over: frees the half-open trial it holds if no verdict did (a throw). */
  release(provider: string, model: string, by: Admission): void {
    const e = this.entries.get(keyOf(provider, model));
    if (e) this.free(e, by);
  }

  /** A provider-side failure (never the user's input being rejected); a failed trial re-opens at once. */
  failure(provider: string, model: string, by?: Admission): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures++;
    const wasTrial = this.free(e, by);
    if (wasTrial || e.consecutiveFailures >= this.opts.failuresToOpen) e.openUntil = this.opts.now() + this.opts.cooldownMs;
    this.record(provider, model, e, 'f');
  }

  /** A task finished on this provider after `seconds` from its submit. */
  completed(provider: string, model: string, seconds: number): void {
    const e = this.entry(provider, model);
    e.completions.push(Math.round(seconds * 10) / 10);
    if (e.completions.length > WINDOW) e.completions.shift();
    this.changed(keyOf(provider, model));
  }

  successRate(provider: string, model: string): number | null {
    const o = this.entries.get(keyOf(provider, model))?.outcomes ?? '';
    const judged = count(o, 's') + count(o, 'f');
    return judged === 0 ? null : count(o, 's') / judged;
  }

  /** Median of recent completion times, seconds; null until there are some. */
  p50Completion(provider: string, model: string): number | null {
    return percentile(this.entries.get(keyOf(provider, model))?.completions, 0.5);
  }

  snapshot(provider: string, model: string): HealthSnapshot {
    const e = this.entries.get(keyOf(provider, model));
    const o = e?.outcomes ?? '';
    return {
      state: this.state(provider, model),
      success_rate: this.successRate(provider, model),
      rejection_rate: o.length === 0 ? null : count(o, 'r') / o.length,
      p50_completion_s: percentile(e?.completions, 0.5),
      p95_completion_s: percentile(e?.completions, 0.95),
      completions: e?.completions.length ?? 0,
      consecutive_failures: e?.consecutiveFailures ?? 0,
      open_until: e?.openUntil ?? null,
      next_probe_at: e?.openUntil ?? null,
    };
  }

  /** Every provider × model with learned health (metrics read the circuit states from here). */
  keys(): { provider: string; model: string }[] {
    return [...this.entries.keys()].map((k) => {
      const [provider, model] = k.split('\u0000') as [string, string];
      return { provider, model };
    });
  }

  /** Write what changed since the last flush; flushes run one at a time (each holds a connection). */
  flush(): Promise<void> {
    const run = this.flushing.catch(() => undefined).then(() => this.flushNow());
    this.flushing = run;
    return run;
  }

  private async flushNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const store = this.opts.persistence;
    if (!store || this.dirty.size === 0) return;
    const now = this.opts.now();
    const rows: ProviderHealthRow[] = [...this.dirty].map((k) => {
      const [provider, model] = k.split('\u0000') as [string, string];
      const e = this.entries.get(k)!;
      return { provider, model, outcomes: e.outcomes, completions: JSON.stringify(e.completions), consecutiveFailures: e.consecutiveFailures, openUntil: e.openUntil, updatedAt: now };
    });
    this.dirty.clear();
    try {
      await store.put(rows);
      this.seen = Math.max(this.seen, now);
    } catch (err) {
      // Written again with the next change.
      for (const r of rows) this.dirty.add(keyOf(r.provider, r.model));
      throw err;
    }
  }

  /** Flush and stop writing (before the database closes). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Frees the trial if `by` holds it; says whether it did. */
  private free(e: Entry, by: Admission | undefined): boolean {
    if (by === undefined || e.trial !== by) return false;
    e.trial = null;
    return true;
  }

  private record(provider: string, model: string, e: Entry, outcome: Outcome): void {
    e.outcomes = (e.outcomes + outcome).slice(-WINDOW);
    this.changed(keyOf(provider, model));
  }

  private changed(key: string): void {
    this.dirty.add(key);
    if (this.timer || this.closed || !this.opts.persistence) return;
    this.timer = setTimeout(() => {
      this.flush().catch((err: unknown) => this.opts.onError?.(err));
    }, FLUSH_MS);
    this.timer.unref();
  }
}

function keyOf(provider: string, model: string): string {
  return `${provider}\u0000${model}`;
}

function count(s: string, c: string): number {
  let n = 0;
  for (const ch of s) if (ch === c) n++;
  return n;
}

/** Nearest-rank percentile of a small sample; null when empty. */
function percentile(values: readonly number[] | undefined, p: number): number | null {
  if (!values || values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? null;
}
