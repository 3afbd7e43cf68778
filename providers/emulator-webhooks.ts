/**
 * Outbound webhooks of an emulator: the provider POSTs status changes to the URL a create
 * registered. Each emulator says which events a task has in each phase (Replicate always sends
 * `start`; PiAPI posts on create and progress; fal only at the end); this file sends each event
 * once, in order, with a timeout, retrying a failed delivery a few times the way providers do.
 *
 * Emulator phases follow an injectable clock, so nothing "happens" by itself: deliveries go out on
 * a real-time timer while tasks are watched and right after a create (unless the interval is 0),
 * and on `flush()` (tests, and `POST /__emulator/webhooks/flush` from another process).
 */
import type { SimPhase, SimTask } from './emulator-kit.ts';

/** One delivery. `key` identifies the event within its task: each key is delivered once. */
export interface HookEvent {
  key: string;
  body: unknown;
  headers?: Record<string, string>;
}

/** The events a task has by now, oldest first (already-sent ones included; they are skipped). */
export type HookEvents = (task: SimTask, phase: SimPhase) => HookEvent[];

interface Watched {
  task: SimTask;
  url: string;
  events: HookEvents;
  sent: Set<string>;
  failures: number;
  /** This task's deliveries run one after another: a chain, so a flush can wait for a running one. */
  running: Promise<number>;
}

/** Deliveries that may fail before an event is given up (providers retry a few times, then stop). */
const MAX_FAILURES = 3;
const DELIVERY_TIMEOUT_MS = 5_000;
const ENDED = new Set<SimPhase>(['completed', 'failed', 'cancelled']);

export class WebhookSender {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;
  /** Deliveries answered 2xx. */
  delivered = 0;
  /** Deliveries that failed (network error, timeout or non-2xx). */
  failed = 0;

  /** `intervalMs` 0: deliveries go out only on {@link flush} (deterministic tests). */
  constructor(
    private readonly phaseOf: (task: SimTask) => SimPhase,
    private readonly intervalMs: number,
  ) {}

  /**
   * Send `events` of `task` to `url` as they become due. Only loopback URLs are delivered to: an
   * emulator serves tests, demos and drills on this machine, and a registered public URL (such as
   * `https://gw.example.com`) must never make it reach the network.
   */
  watch(task: SimTask, url: string, events: HookEvents): void {
    if (!isLoopback(url)) return;
    this.watched.set(task.id, { task, url, events, sent: new Set(), failures: 0, running: Promise.resolve(0) });
    if (this.intervalMs <= 0) return;
    if (!this.timer) {
      this.timer = setInterval(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
    setImmediate(() => void this.flush());
  }

  /** Deliver every due event now; resolves when those deliveries are done. Returns how many succeeded. */
  async flush(): Promise<number> {
    const runs = [...this.watched.values()].map((w) => (w.running = w.running.then(() => this.deliver(w))));
    const counts = await Promise.all(runs);
    if (this.watched.size === 0) this.stop();
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Stop the timer (the emulator is closing); nothing more is sent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async deliver(w: Watched): Promise<number> {
    let count = 0;
    for (const event of w.events(w.task, this.phaseOf(w.task))) {
      if (w.sent.has(event.key)) continue;
      const ok = await this.post(w.url, event);
      // Later events wait for a failed one, so a receiver never sees them out of order.
      if (!ok && ++w.failures < MAX_FAILURES) return count;
      w.failures = 0;
      w.sent.add(event.key);
      if (ok) count++;
    }
    // Ended and everything sent: nothing more will come for this task.
    if (ENDED.has(this.phaseOf(w.task)) && w.events(w.task, this.phaseOf(w.task)).every((e) => w.sent.has(e.key))) this.watched.delete(w.task.id);
    return count;
  }

  private async post(url: string, event: HookEvent): Promise<boolean> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...event.headers },
        body: JSON.stringify(event.body),
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      if (res.ok) this.delivered++;
      else this.failed++;
      return res.ok;
    } catch {
      this.failed++;
      return false;
    }
  }
}

/** Whether `url` is http(s) on a loopback host. */
function isLoopback(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return (u.protocol === 'http:' || u.protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}
