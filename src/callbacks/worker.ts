/**
 * Delivering callbacks from the outbox: Standard Webhooks signatures (the maintained
 * `standardwebhooks` package) with the key's `whsec_` secret, a timeout, no redirects followed,
 * retries at 1 s, 2 s, 4 s. Its schedule is `next_attempt_at` in SQLite, so it resumes after a restart.
 * Fair across receivers: due rows are read a few per receiver host, sends start as slots free, and one
 * host gets at most `callbacks.per_host_concurrency` of the `callbacks.concurrency` slots, so a receiver
 * that hangs (each send waits out `callbacks.timeout_ms`) delays only its own callbacks.
 */
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Store } from '../db/store.ts';
import type { UrlGuard } from '../net/ssrf.ts';
import { LEASE_MS } from '../leases.ts';

export interface CallbackWorkerDeps {
  store: Store;
  guard: UrlGuard;
  config: Config;
  now: () => number;
  log: Logger;
  /** This replica's name on the deliveries it claims. */
  owner: string;
  /** Told the outcome of each delivery attempt (metrics). */
  onDelivery?: (outcome: 'delivered' | 'retry' | 'failed') => void;
}

export class CallbackWorker {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Due deliveries from the last read of the outbox, per receiver host, not yet launched. */
  private queues = new Map<string, string[]>();
  /** Deliveries being sent, per receiver host: the per-host bound. */
  private readonly active = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  /** Every delivery being sent, so stop() and runDue() can wait for them. */
  private readonly sends = new Set<Promise<void>>();

  constructor(
    private readonly deps: CallbackWorkerDeps,
    private readonly tickMs = 250,
  ) {}

  /**
   * Send in the background on a real timer. Each tick re-reads the outbox; a finished delivery frees
   * its slot for the next queued one at once, so no tick waits for the slowest receiver and a hanging
   * receiver holds at most its own host's slots.
   */
  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.refill()
        .catch((err: unknown) => this.deps.log.error({ err }, 'callback tick failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.tickMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stop launching; resolves when the deliveries being sent are done. Claimed but unsent deliveries are due again at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const unsent = [...this.queues.values()].flat();
    this.queues.clear();
    const at = this.deps.now();
    for (const id of unsent) await this.deps.store.deliveries.update(id, { nextAttemptAt: at, leaseOwner: null });
    while (this.sends.size) await Promise.all(this.sends);
  }

  /** Read what is due, send it within the bounds and wait until those sends are done. Returns how many were read. Tests call this. */
  async runDue(): Promise<number> {
    const count = await this.refill();
    while (this.sends.size) await Promise.all(this.sends);
    return count;
  }

  /**
   * Claim due deliveries (a few per receiver host, through the index) and launch within free slots.
   * A claim is a lease: no other replica sends them meanwhile, and they join this replica's queues
   * until a slot frees.
   */
  private async refill(): Promise<number> {
    const { store, config, now } = this.deps;
    const { batch, per_host_concurrency: perHost } = config.callbacks;
    const queued = [...this.queues.values()].reduce((n, q) => n + q.length, 0);
    if (queued >= batch) {
      this.pumpAll();
      return 0;
    }
    let count = 0;
    // Twice the per-host bound: what is claimed must still fill the slots that free before the next tick.
    for (const { id, url } of await store.deliveries.claimDue(now(), perHost * 2, batch - queued, this.deps.owner, LEASE_MS)) {
      if (this.inFlight.has(id)) continue;
      const host = hostOf(url);
      const queue = this.queues.get(host);
      if (queue) queue.push(id);
      else this.queues.set(host, [id]);
      count++;
    }
    this.pumpAll();
    return count;
  }

  /** Launch queued deliveries, host by host in turn, while the global and per-host bounds allow. */
  private pumpAll(skip?: string): void {
    const { concurrency, per_host_concurrency: perHost } = this.deps.config.callbacks;
    // One per host per round, so a long queue for one host does not go first; stops when no host can take more.
    let progress = true;
    while (progress && this.sends.size < concurrency) {
      progress = false;
      for (const [host, queue] of this.queues) {
        if (this.sends.size >= concurrency) return;
        if (host === skip || (this.active.get(host) ?? 0) >= perHost) continue;
        const id = queue.shift();
        if (queue.length === 0) this.queues.delete(host);
        if (id === undefined) continue;
        progress = true;
        if (!this.inFlight.has(id)) this.launch(host, id);
      }
    }
  }

  private launch(host: string, id: string): void {
    this.active.set(host, (this.active.get(host) ?? 0) + 1);
    this.inFlight.add(id);
    const send = this.deliver(id)
      .catch((err: unknown) => {
        this.deps.log.error({ err, delivery: id }, 'callback delivery failed');
        return false;
      })
      .then((answered) => {
        this.active.set(host, (this.active.get(host) ?? 1) - 1);
        if (this.active.get(host) === 0) this.active.delete(host);
        this.inFlight.delete(id);
        this.sends.delete(send);
        // A receiver that failed gets its freed slot back at the next tick, not at once.
        if (!this.stopped) this.pumpAll(answered ? undefined : host);
      });
    this.sends.add(send);
  }

  /** Send one delivery; answers whether the receiver took it (or there was nothing to send). */
  private async deliver(id: string): Promise<boolean> {
    const { store, config, now } = this.deps;
    const d = await store.deliveries.get(id);
    if (!d || d.status !== 'pending') return true;
    const key = await store.keys.byId(d.keyId);
    if (!key) return true;
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
    }
    const at = now();
    const attempts = d.attempts + 1;
    if (error === null) {
      await store.deliveries.update(id, { status: 'delivered', attempts, lastStatusCode: statusCode, lastError: null, nextAttemptAt: null, deliveredAt: at, updatedAt: at, leaseOwner: null });
      this.deps.onDelivery?.('delivered');
      return true;
    }
    const giveUp = attempts > config.callbacks.max_retries;
    this.deps.onDelivery?.(giveUp ? 'failed' : 'retry');
    await store.deliveries.update(id, {
      leaseOwner: null,
      status: giveUp ? 'failed' : 'pending',
      attempts,
      lastStatusCode: statusCode,
      lastError: error,
      nextAttemptAt: giveUp ? null : at + 1_000 * 2 ** (attempts - 1),
      updatedAt: at,
    });
    return false;
  }
}

/** The receiver host (with port) a delivery goes to; an unparsable URL gets a bucket of its own and fails in the guard. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
