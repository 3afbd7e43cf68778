/**
 * Prometheus metrics (prom-client), one registry per app so tests can build many apps. The names
 * and labels are fixed by CONTRACT §11 so dashboards (docs/grafana-dashboard.json) stay stable.
 * Counters are incremented by the engine through `ctx.metrics`; gauges are read at scrape time
 * from the sources given to {@link Metrics.observe}.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { instrumentAdapter } from './routing/instrument.ts';
import type { EngineContext } from './tasks/context.ts';

/** What the scrape-time gauges read. */
export interface GaugeSources {
  /** Circuit state per provider × model: 0 closed, 1 half-open, 2 open. */
  circuits(): { provider: string; model: string; state: 0 | 1 | 2 }[];
  /** Unended tasks per provider. */
  inFlight(): Promise<{ provider: string; count: number }[]>;
  /** How late the most overdue poll is, seconds (0 when nothing is due). */
  pollerLagSeconds(): Promise<number>;
}

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  latency: Histogram<'route'>;
  tasksCreated: Counter<'model' | 'provider'>;
  tasksEnded: Counter<'model' | 'provider' | 'status'>;
  failovers: Counter<'from' | 'to' | 'reason'>;
  /** kind: held | charged | refunded. */
  money: Counter<'kind'>;
  /** op: create | status | cancel | lookup; outcome: ok | error. */
  upstreamRequests: Counter<'provider' | 'op' | 'outcome'>;
  /** kind: the ProviderError kind (rate_limited, unavailable, timeout, …). */
  upstreamErrors: Counter<'provider' | 'kind'>;
  upstreamSeconds: Histogram<'provider' | 'op'>;
  /** outcome: delivered | retry | failed. */
  callbackDeliveries: Counter<'outcome'>;
  /** Micro-USD produced but not billed to keys (charge capped at the hold). */
  underbilled: Counter;
  /** Connect the scrape-time gauges to their sources (the runtime does, once). */
  observe(sources: GaugeSources): void;
}

export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: GaugeSources | null = null;
  new Gauge({
    name: 'reelroute_circuit_state',
    help: 'Circuit breaker per provider and model: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider', 'model'],
    registers,
    collect() {
      this.reset();
      for (const c of sources?.circuits() ?? []) this.set({ provider: c.provider, model: c.model }, c.state);
    },
  });
  new Gauge({
    name: 'reelroute_tasks_in_flight',
    help: 'Tasks not yet ended, by the provider running them',
    labelNames: ['provider'],
    registers,
    async collect() {
      this.reset();
      for (const p of (await sources?.inFlight()) ?? []) this.set({ provider: p.provider }, p.count);
    },
  });
  new Gauge({
    name: 'reelroute_poller_lag_seconds',
    help: 'How late the most overdue task poll is',
    registers,
    async collect() {
      this.set((await sources?.pollerLagSeconds()) ?? 0);
    },
  });
  return {
    registry,
    requests: new Counter({ name: 'reelroute_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers }),
    latency: new Histogram({
      name: 'reelroute_http_request_seconds',
      help: 'HTTP request latency',
      labelNames: ['route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
    tasksCreated: new Counter({ name: 'reelroute_tasks_created_total', help: 'Tasks created, by model and first provider', labelNames: ['model', 'provider'], registers }),
    tasksEnded: new Counter({ name: 'reelroute_tasks_ended_total', help: 'Tasks ended, by model, last provider and final status', labelNames: ['model', 'provider', 'status'], registers }),
    failovers: new Counter({ name: 'reelroute_failovers_total', help: 'Failovers from one provider to the next, by the failure that caused them', labelNames: ['from', 'to', 'reason'], registers }),
    money: new Counter({ name: 'reelroute_money_micros_total', help: 'Micro-USD held, charged and refunded on API keys', labelNames: ['kind'], registers }),
    upstreamRequests: new Counter({ name: 'reelroute_upstream_requests_total', help: 'Calls to upstream providers', labelNames: ['provider', 'op', 'outcome'], registers }),
    upstreamErrors: new Counter({ name: 'reelroute_upstream_errors_total', help: 'Failed upstream calls by error kind', labelNames: ['provider', 'kind'], registers }),
    upstreamSeconds: new Histogram({
      name: 'reelroute_upstream_request_seconds',
      help: 'Upstream call latency',
      labelNames: ['provider', 'op'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    callbackDeliveries: new Counter({ name: 'reelroute_callback_deliveries_total', help: 'Callback delivery attempts by outcome', labelNames: ['outcome'], registers }),
    underbilled: new Counter({ name: 'reelroute_underbilled_micros_total', help: 'Micro-USD produced upstream but not billed to keys (charge capped at the hold)', registers }),
    observe(s) {
      sources = s;
    },
  };
}

/**
 * Connect the metrics to an engine: upstream calls of every provider measured, under-billing
 * counted, and the gauges read from learned health and the task schedule.
 */
export function attachMetrics(ctx: EngineContext): void {
  const { metrics } = ctx;
  for (const p of ctx.providers) p.adapter = instrumentAdapter(p.adapter, p.id, metrics);
  ctx.onUnderbilled = (event) => metrics.underbilled.inc(event.unbilledMicros);
  const CIRCUIT = { closed: 0, half_open: 1, open: 2 } as const;
  metrics.observe({
    circuits: () =>
      ctx.providers.flatMap((p) => [...p.models.keys()].map((model) => ({ provider: p.id, model, state: CIRCUIT[ctx.health.state(p.id, model)] }))),
    inFlight: () => ctx.store.ops.inFlightByProvider(),
    pollerLagSeconds: async () => {
      const due = await ctx.store.ops.oldestScheduledPoll();
      return due === null ? 0 : Math.max(0, (ctx.now() - due) / 1000);
    },
  });
}
