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

interface Entry {
  consecutiveFailures: number;
  openUntil: number | null;
  /** A half-open trial is in flight: others wait for its outcome. Not persisted: a restart frees it. */
  trialInFlight: boolean;
  outcomes: string;
  completions: number[];
}

/** Outcomes and completion times remembered per provider × model. */
const WINDOW = 100;
const FLUSH_MS = 1_000;

/** Where health is kept between runs. */
export interface HealthPersistence {
  all(): ProviderHealthRow[];
  put(rows: readonly ProviderHealthRow[]): void;
  transaction<T>(fn: () => T): T;
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

  constructor(private readonly opts: HealthOptions) {
    for (const row of opts.persistence?.all() ?? []) {
      this.entries.set(keyOf(row.provider, row.model), {
        consecutiveFailures: row.consecutiveFailures,
        openUntil: row.openUntil,
        trialInFlight: false,
        outcomes: row.outcomes,
        completions: JSON.parse(row.completions) as number[],
      });
    }
  }

  private entry(provider: string, model: string): Entry {
    const key = keyOf(provider, model);
    let e = this.entries.get(key);
    if (!e) {
      e = { consecutiveFailures: 0, openUntil: null, trialInFlight: false, outcomes: '', completions: [] };
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
    return !this.entry(provider, model).trialInFlight;
  }

  /** Call just before sending a request that `allows` admitted: claims the half-open trial. */
  begin(provider: string, model: string): void {
    if (this.state(provider, model) === 'half_open') this.entry(provider, model).trialInFlight = true;
  }

  success(provider: string, model: string): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures = 0;
    e.openUntil = null;
    e.trialInFlight = false;
    this.record(provider, model, e, 's');
  }

  /**
   * The provider answered and refused the input (invalid request, moderation): it is up, so a
   * circuit closes as on a success; it counts in the rejection rate, not against success.
   */
  rejected(provider: string, model: string): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures = 0;
    e.openUntil = null;
    e.trialInFlight = false;
    this.record(provider, model, e, 'r');
  }

  /** The request `begin` admitted is over: frees a half-open trial that got no verdict (a throw). */
  release(provider: string, model: string): void {
    const e = this.entries.get(keyOf(provider, model));
    if (e) e.trialInFlight = false;
  }

  /** A provider-side failure (never the user's input being rejected). */
  failure(provider: string, model: string): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures++;
    const wasTrial = e.trialInFlight;
    e.trialInFlight = false;
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

  /** Write what changed since the last flush. */
  flush(): void {
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
    store.transaction(() => store.put(rows));
    this.dirty.clear();
  }

  /** Flush and stop writing (before the database closes). */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private record(provider: string, model: string, e: Entry, outcome: Outcome): void {
    e.outcomes = (e.outcomes + outcome).slice(-WINDOW);
    this.changed(keyOf(provider, model));
  }

  private changed(key: string): void {
    this.dirty.add(key);
    if (this.timer || this.closed || !this.opts.persistence) return;
    this.timer = setTimeout(() => {
      try {
        this.flush();
      } catch (err) {
        this.opts.onError?.(err);
      }
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
