/**
 * Wiring: from a validated config and an open store to the engine context, the app and the
 * poller. main.ts and the integration tests both build the gateway through here.
 */
import pino, { type Logger } from 'pino';
import type { Hono } from 'hono';
import { ConfigError, type Config } from './config.ts';
import type { Store } from './db/store.ts';
import type { AppEnv } from './http/env.ts';
import { createApp } from './app.ts';
import { KeyAuth } from './keys/keys.ts';
import { createMediaProbe, type MediaProbe } from './media/probe.ts';
import { createUrlGuard, type UrlGuard } from './net/ssrf.ts';
import { attachMetrics, createMetrics } from './metrics.ts';
import { resolvePrice, type UnitPrice } from './pricing/prices.ts';
import { HealthTracker } from './routing/health.ts';
import { buildProviders } from './routing/providers.ts';
import { applyStoredOverrides } from './routing/overrides.ts';
import type { CanonicalModel } from '../providers/types.ts';
import type { EngineContext } from './tasks/context.ts';
import { Poller } from './tasks/poller.ts';
import { CallbackWorker } from './callbacks/worker.ts';
import { createLocalBlobStore } from './files/blob-store.ts';
import { defaultFilesDir, FileStore } from './files/store.ts';
import { localFirstProbe } from './files/local-probe.ts';
import { OutputMirror } from './files/mirror.ts';
import { FileWorkers } from './files/workers.ts';
import { newReplicaId } from './leases.ts';
import { ReplicaWatch } from './replicas.ts';

/** In a folder replicas share, temp objects and unclaimed blobs younger than this may be another replica's work in progress. */
const SHARED_LEFTOVER_MS = 3_600_000;

export interface RuntimeOptions {
  config: Config;
  store: Store;
  adminKey: string;
  now?: () => number;
  log?: Logger;
  probe?: MediaProbe;
  guard?: UrlGuard;
  /** Collect process metrics (off in tests). */
  processMetrics?: boolean;
  /** This replica's name on the work it claims (default: host, pid and a random part). */
  replicaId?: string;
}

export interface Runtime {
  ctx: EngineContext;
  app: Hono<AppEnv>;
  poller: Poller;
  callbacks: CallbackWorker;
  auth: KeyAuth;
  /** File store, output mirror and expiry (start/stop with the gateway). */
  files: FileWorkers;
  /** Admin changes and learned health from the other replicas (PostgreSQL). */
  replicas: ReplicaWatch;
}

export async function createRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const now = opts.now ?? Date.now;
  const { config, store } = opts;
  const listPrices = new Map<CanonicalModel, UnitPrice>();
  for (const [model, spec] of Object.entries(config.billing?.models ?? {})) {
    if (spec) listPrices.set(model as CanonicalModel, resolvePrice(spec));
  }
  const log = opts.log ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const guard = opts.guard ?? createUrlGuard({ allowInsecure: config.callbacks.allow_insecure, log });
  // Changes made through PATCH /admin/providers/{id} survive a restart: stored overrides over the config.
  const providers = buildProviders(config, now);
  applyStoredOverrides(providers, (await store.admin.overrides()), log);
  if (store.engine === 'postgres' && !config.files.shared) {
    throw new ConfigError(
      'files.shared: with PostgreSQL, replicas serve each other\'s files, so the files folder must be a volume every replica mounts; set files.shared: true once it is (docs/deployment.md)',
    );
  }
  const files = new FileStore({ store, blobs: createLocalBlobStore(defaultFilesDir(config, store.path), { keepTempMs: config.files.shared ? SHARED_LEFTOVER_MS : 0 }), config, now, log });
  // One process per database: what a previous one claimed is due again now, not when its lease ends.
  if (store.engine === 'sqlite') await store.ops.releaseLeases(now());
  // Unclaimed blobs are a crash's leftovers; in a shared folder only once no replica can still be
  // between writing one and recording its row.
  await files.sweepOrphans(config.files.shared ? SHARED_LEFTOVER_MS : 0);
  const metrics = createMetrics({ defaults: opts.processMetrics ?? false });
  const ctx: EngineContext = {
    metrics,
    guard,
    store,
    providers,
    health: new HealthTracker({
      failuresToOpen: config.routing.breaker_failures,
      cooldownMs: config.routing.breaker_cooldown_ms,
      now,
      // Learned health survives a restart: loaded here, written behind.
      persistence: { all: () => store.health.all(), put: (rows) => store.transaction((tx) => tx.health.put(rows)) },
      onError: (err) => log.warn({ err }, 'provider health not saved'),
    }),
    probe:
      opts.probe ??
      createMediaProbe({
        timeoutMs: config.media.probe_timeout_ms,
        maxBytes: config.media.probe_max_bytes,
        cacheTtlMs: config.media.cache_ttl_ms,
        limits: {
          maxConcurrent: config.media.probe_max_concurrent,
          maxQueued: config.media.probe_max_queued,
          maxBytesInFlight: config.media.probe_max_bytes_in_flight,
          perKey: config.media.probe_per_key,
        },
        now,
        dispatcher: guard.dispatcher,
        guard: async (url) => void (await guard.check(url)),
      }),
    config,
    now,
    listPrices,
    inFlight: new Set(),
    replicaId: opts.replicaId ?? newReplicaId(),
    log,
    files,
  };
  await ctx.health.refresh();
  attachMetrics(ctx);
  // Gateway file URLs are read from disk, never fetched.
  ctx.probe = localFirstProbe(files, ctx.probe);
  const auth = new KeyAuth(store);
  const poller = new Poller(ctx);
  ctx.mirror = new OutputMirror(ctx, (task, attempt, status) => poller.complete(task, attempt, status));
  const app = createApp({ ctx, auth, adminKey: opts.adminKey }, poller, metrics);
  const callbacks = new CallbackWorker({ store, guard, config, now, log: ctx.log, owner: ctx.replicaId, onDelivery: (outcome) => metrics.callbackDeliveries.inc({ outcome }) });
  const replicas = new ReplicaWatch(ctx, auth, log);
  return { ctx, app, poller, callbacks, auth, files: new FileWorkers(files, ctx.mirror, log, ctx.replicaId), replicas };
}
