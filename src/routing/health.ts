/**
 * Health per provider × model: a circuit breaker (opens after repeated provider-side failures,
 * half-opens after a cooldown and lets one trial through) plus recent success rate and completion
 * times. In memory on purpose: health is about the last minutes, and a restart starts it fresh.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface HealthSnapshot {
  state: BreakerState;
  success_rate: number | null;
  p50_completion_s: number | null;
  consecutive_failures: number;
  open_until: number | null;
}

interface Entry {
  consecutiveFailures: number;
  openUntil: number | null;
  /** A half-open trial is in flight: others wait for its outcome. */
  trialInFlight: boolean;
  outcomes: boolean[];
  completions: number[];
}

const WINDOW = 50;

export interface HealthOptions {
  failuresToOpen: number;
  cooldownMs: number;
  now: () => number;
}

export class HealthTracker {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: HealthOptions) {}

  private entry(provider: string, model: string): Entry {
    const key = `${provider}\u0000${model}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { consecutiveFailures: 0, openUntil: null, trialInFlight: false, outcomes: [], completions: [] };
      this.entries.set(key, e);
    }
    return e;
  }

  state(provider: string, model: string): BreakerState {
    const e = this.entries.get(`${provider}\u0000${model}`);
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
    push(e.outcomes, true);
  }

  /**
   * The provider answered and refused the input (invalid request, moderation): it is up, so a
   * circuit closes as on a success, but the success rate is about the provider, not the input.
   */
  rejected(provider: string, model: string): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures = 0;
    e.openUntil = null;
    e.trialInFlight = false;
  }

  /** The request `begin` admitted is over: frees a half-open trial that got no verdict (a throw). */
  release(provider: string, model: string): void {
    const e = this.entries.get(`${provider}\u0000${model}`);
    if (e) e.trialInFlight = false;
  }

  /** A provider-side failure (never the user's input being rejected). */
  failure(provider: string, model: string): void {
    const e = this.entry(provider, model);
    e.consecutiveFailures++;
    push(e.outcomes, false);
    const wasTrial = e.trialInFlight;
    e.trialInFlight = false;
    if (wasTrial || e.consecutiveFailures >= this.opts.failuresToOpen) e.openUntil = this.opts.now() + this.opts.cooldownMs;
  }

  /** A task finished on this provider after `seconds`. */
  completed(provider: string, model: string, seconds: number): void {
    push(this.entry(provider, model).completions, seconds);
  }

  successRate(provider: string, model: string): number | null {
    const o = this.entries.get(`${provider}\u0000${model}`)?.outcomes;
    if (!o || o.length === 0) return null;
    return o.filter(Boolean).length / o.length;
  }

  /** Median of recent completion times, seconds; null until there are some. */
  p50Completion(provider: string, model: string): number | null {
    const c = this.entries.get(`${provider}\u0000${model}`)?.completions;
    if (!c || c.length === 0) return null;
    const sorted = [...c].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
  }

  snapshot(provider: string, model: string): HealthSnapshot {
    const e = this.entries.get(`${provider}\u0000${model}`);
    return {
      state: this.state(provider, model),
      success_rate: this.successRate(provider, model),
      p50_completion_s: this.p50Completion(provider, model),
      consecutive_failures: e?.consecutiveFailures ?? 0,
      open_until: e?.openUntil ?? null,
    };
  }
}

function push<T>(ring: T[], value: T): void {
  ring.push(value);
  if (ring.length > WINDOW) ring.shift();
}
