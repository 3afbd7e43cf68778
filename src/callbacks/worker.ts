/**
 * Delivering callbacks from the outbox: Standard Webhooks signatures (the maintained
 * `standardwebhooks` package) with the key's `whsec_` secret, a timeout, no redirects followed,
 * retries at 1 s, 2 s, 4 s. Its schedule is `next_attempt_at` in SQLite, so it resumes after a restart.
 */
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Store } from '../db/store.ts';
import type { UrlGuard } from '../net/ssrf.ts';

export interface CallbackWorkerDeps {
  store: Store;
  guard: UrlGuard;
  config: Config;
  now: () => number;
  log: Logger;
  /** Told the outcome of each delivery attempt (metrics). */
  onDelivery?: (outcome: 'delivered' | 'retry' | 'failed') => void;
}

const BATCH = 100;
const CONCURRENCY = 16;

export class CallbackWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly deps: CallbackWorkerDeps,
    private readonly tickMs = 250,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      try {
        await this.runDue();
      } catch (err) {
        this.deps.log.error({ err }, 'callback tick failed');
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.tickMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Send every delivery due now (one bounded batch). Returns how many were tried. Tests call this. */
  runDue(): Promise<number> {
    this.running ??= this.tick().finally(() => (this.running = null));
    return this.running;
  }

  private async tick(): Promise<number> {
    const queue = this.deps.store.deliveries.due(this.deps.now(), BATCH).filter((id) => !this.inFlight.has(id));
    const count = queue.length;
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await this.deliver(id);
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
    return count;
  }

  private async deliver(id: string): Promise<void> {
    const { store, config, now } = this.deps;
    const d = store.deliveries.get(id);
    if (!d || d.status !== 'pending') return;
    const key = store.keys.byId(d.keyId);
    if (!key) return;
    this.inFlight.add(id);
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      await this.deps.guard.check(d.url);
      const sentAt = now();
      const signature = new Webhook(key.webhookSecret.slice('whsec_'.length)).sign(d.id, new Date(sentAt), d.payload);
      const res = await request(d.url, {
        method: 'POST',
        dispatcher: this.deps.guard.dispatcher,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'reelroute-callbacks/1',
          'webhook-id': d.id,
          'webhook-timestamp': String(Math.floor(sentAt / 1000)),
          'webhook-signature': signature,
        },
        body: d.payload,
        headersTimeout: config.callbacks.timeout_ms,
        bodyTimeout: config.callbacks.timeout_ms,
        signal: AbortSignal.timeout(config.callbacks.timeout_ms),
      });
      statusCode = res.statusCode;
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (statusCode < 200 || statusCode >= 300) error = `answered ${statusCode}`;
    } catch (err) {
      error = (err as Error).message;
    } finally {
      this.inFlight.delete(id);
    }
    const at = now();
    const attempts = d.attempts + 1;
    if (error === null) {
      store.deliveries.update(id, { status: 'delivered', attempts, lastStatusCode: statusCode, lastError: null, nextAttemptAt: null, deliveredAt: at, updatedAt: at });
      this.deps.onDelivery?.('delivered');
      return;
    }
    const giveUp = attempts > config.callbacks.max_retries;
    this.deps.onDelivery?.(giveUp ? 'failed' : 'retry');
    store.deliveries.update(id, {
      status: giveUp ? 'failed' : 'pending',
      attempts,
      lastStatusCode: statusCode,
      lastError: error,
      nextAttemptAt: giveUp ? null : at + 1_000 * 2 ** (attempts - 1),
      updatedAt: at,
    });
  }
}
