/** What the task engine works with, passed explicitly (no module singletons). */
import type { Logger } from 'pino';
import type { CanonicalModel, TaskRef, UpstreamRequest } from '../../providers/types.ts';
import type { Config } from '../config.ts';
import type { Store } from '../db/store.ts';
import type { TaskRow } from '../db/schema/index.ts';
import type { MediaProbe } from '../media/probe.ts';
import type { UrlGuard } from '../net/ssrf.ts';
import type { UnitPrice } from '../pricing/prices.ts';
import type { HealthTracker } from '../routing/health.ts';
import type { FileStore } from '../files/store.ts';
import type { OutputMirror } from '../files/mirror.ts';
import type { UnderbilledEvent } from './finish.ts';
import type { ProviderRuntime } from '../routing/providers.ts';
import type { Metrics } from '../metrics.ts';

export interface EngineContext {
  store: Store;
  /** Live list; admin changes replace entries in place. */
  providers: ProviderRuntime[];
  health: HealthTracker;
  probe: MediaProbe;
  /** SSRF guard for every URL fetched on a user's behalf. */
  guard: UrlGuard;
  config: Config;
  now: () => number;
  /** Configured list prices by model; absent = keys pay the upstream cost. */
  listPrices: ReadonlyMap<CanonicalModel, UnitPrice>;
  /** Tasks being worked on in this process right now: the poller leaves them alone. */
  inFlight: Set<string>;
  /** This replica's name on the work it claims (src/leases.ts). */
  replicaId: string;
  log: Logger;
  /** Uploads, pinned inputs and mirrored outputs (CONTRACT §8). */
  files: FileStore;
  /** Holds a completed task back until its outputs are stored (src/files/mirror.ts); absent: complete at once. */
  mirror?: OutputMirror;
  /** Prometheus counters the engine increments (CONTRACT §11). */
  metrics: Metrics;
  /** Called once a completed task turns out under-billed (after its transaction committed): metrics. */
  onUnderbilled?: (event: UnderbilledEvent) => void;
}

export function providerById(ctx: EngineContext, id: string): ProviderRuntime | undefined {
  return ctx.providers.find((p) => p.id === id);
}

export function requestOf(task: TaskRow): UpstreamRequest {
  return JSON.parse(task.request) as UpstreamRequest;
}

/** How an adapter addresses an attempt's upstream task; `handle` is what its create returned. */
export function refOf(task: TaskRow, upstreamId: string, handle?: string | null): TaskRef {
  return { upstreamId, model: task.model as CanonicalModel, quality: task.quality as TaskRef['quality'], ...(handle ? { handle } : {}) };
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** Attempt states of an attempt still running (or being sent) upstream. */
export const LIVE_ATTEMPT = new Set(['submitting', 'pending', 'processing']);
