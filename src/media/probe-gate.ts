/**
 * Bounds on media probes (issue 8 #9): 800 concurrent estimates against a server with a slow 4 MB
 * moov once took the gateway from 152 MiB to 1.1 GiB. The gate admits at most `maxConcurrent`
 * probes (a short FIFO queue behind them, the rest refused at once), at most `perKey` of them for one
 * API key, and at most `maxBytesInFlight` bytes held by all running probes together (a probe keeps
 * what it read until it ends, so it reserves before each read and releases everything at the end).
 * Hand-written: the weighted part (bytes) is what the usual limiters (p-limit, p-queue) lack.
 */

/** Limits for {@link ProbeGate}. */
export interface ProbeLimits {
  /** Probes running at once, all keys together. */
  maxConcurrent: number;
  /** Probes waiting for a slot; more are refused as busy. */
  maxQueued: number;
  /** Bytes all running probes may hold together. */
  maxBytesInFlight: number;
  /** Probes one API key may have running or waiting. */
  perKey: number;
}

export const DEFAULT_PROBE_LIMITS: ProbeLimits = { maxConcurrent: 16, maxQueued: 64, maxBytesInFlight: 64 * 1024 * 1024, perKey: 4 };

/** A running probe's pass: reserve bytes before each read; `close()` gives everything back. */
export interface Admission {
  reserve(bytes: number): Promise<void>;
  close(): void;
}

export type Admit = { ok: true; admission: Admission } | { ok: false; reason: string };

interface Waiter<T> {
  resolve(value: T): void;
  bytes: number;
  /** Goes ahead of every waiter without it (FIFO among its kind). */
  priority: boolean;
}

export class ProbeGate {
  private running = 0;
  private bytesHeld = 0;
  private readonly slotQueue: Waiter<boolean>[] = [];
  private readonly byteQueue: Waiter<void>[] = [];
  private readonly perKey = new Map<string, number>();

  constructor(private readonly limits: ProbeLimits) {}

  /** Counters for tests and metrics. */
  get stats() {
    return { running: this.running, queued: this.slotQueue.length, bytesHeld: this.bytesHeld };
  }

  /**
   * Wait for a slot (at most `signal`'s life). Refused at once when the key already has `perKey`
   * probes or the queue is full; refused when `signal` aborts while waiting. A probe for no key is
   * the gateway's own (an output it settles a charge on): it goes to the head of the queue and is
   * never refused for a full one, so a client's flood cannot change what another task is charged.
   */
  async admit(key: string | undefined, signal: AbortSignal): Promise<Admit> {
    const ofKey = key === undefined ? 0 : (this.perKey.get(key) ?? 0);
    if (key !== undefined && ofKey >= this.limits.perKey) return { ok: false, reason: `more than ${this.limits.perKey} media probes at once for this key` };
    if (key !== undefined && this.running >= this.limits.maxConcurrent && this.slotQueue.length >= this.limits.maxQueued) {
      return { ok: false, reason: 'the gateway is reading too many media headers at once' };
    }
    if (key !== undefined) this.perKey.set(key, ofKey + 1);
    const releaseKey = () => {
      if (key === undefined) return;
      const n = (this.perKey.get(key) ?? 1) - 1;
      if (n > 0) this.perKey.set(key, n);
      else this.perKey.delete(key);
    };
    if (this.running < this.limits.maxConcurrent) this.running++;
    else if (!(await this.wait(this.slotQueue, 0, signal, key === undefined))) {
      releaseKey();
      return { ok: false, reason: 'the gateway is reading too many media headers at once' };
    }
    return { ok: true, admission: this.admission(releaseKey) };
  }

  private admission(releaseKey: () => void): Admission {
    let held = 0;
    let closed = false;
    return {
      reserve: async (bytes) => {
        const n = Math.min(bytes, this.limits.maxBytesInFlight);
        if (this.byteQueue.length === 0 && this.bytesHeld + n <= this.limits.maxBytesInFlight) this.bytesHeld += n;
        else await this.wait(this.byteQueue, n);
        held += n;
        if (closed) this.freeBytes(n); // closed while waiting (deadline): give it straight back
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.freeBytes(held);
        held = 0;
        releaseKey();
        this.freeSlot();
      },
    };
  }

  /** Queue up; resolves true once granted, false if `signal` aborts first. */
  private wait<T extends boolean | void>(queue: Waiter<T>[], bytes: number, signal?: AbortSignal, first = false): Promise<T | false> {
    return new Promise((resolve) => {
      const waiter: Waiter<T> = { resolve: (v) => resolve(v), bytes, priority: first };
      const at = first ? queue.findIndex((w) => !w.priority) : -1;
      if (at >= 0) queue.splice(at, 0, waiter);
      else queue.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = queue.indexOf(waiter);
          if (i >= 0) {
            queue.splice(i, 1);
            resolve(false);
          }
        },
        { once: true },
      );
    });
  }

  private freeSlot(): void {
    const next = this.slotQueue.shift();
    if (next) next.resolve(true); // the slot passes straight to the next in line
    else this.running--;
  }

  private freeBytes(n: number): void {
    this.bytesHeld -= n;
    while (this.byteQueue.length > 0 && this.bytesHeld + this.byteQueue[0]!.bytes <= this.limits.maxBytesInFlight) {
      const next = this.byteQueue.shift()!;
      this.bytesHeld += next.bytes;
      next.resolve(undefined);
    }
  }
}
