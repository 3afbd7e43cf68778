/**
 * autocannon, programmatically, in this (the parent) process. Latencies are taken from every 2xx
 * response's own hrtime-based duration (autocannon's histogram only keeps whole milliseconds,
 * too coarse for sub-millisecond added-latency figures).
 */
import autocannon, { type Request } from 'autocannon';
import { cpuBetween, cpuSnapshot, type CpuUse } from './cpu.ts';

export interface LoadOptions {
  url: string;
  /** Several targets instead of `url`: autocannon gives connection i to urls[i mod n] (a fair round-robin over replicas). */
  urls?: string[];
  connections: number;
  durationS: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Per-request path chooser (e.g. random task ids). */
  path?: () => string;
  /** Per-request headers chooser (e.g. one of several API keys), instead of `headers`. */
  headersFor?: () => Record<string, string>;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  durationS: number;
  /** CPU used meanwhile by the bench and by anything else on the machine. */
  cpu: CpuUse;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function runLoad(o: LoadOptions): Promise<LoadResult> {
  const samples: number[] = [];
  const statusCodes: Record<string, number> = {};
  const started = process.hrtime.bigint();
  const cpu0 = cpuSnapshot();
  return new Promise((resolve, reject) => {
    const request: Request = {
      method: o.method ?? 'GET',
      ...(o.headers ? { headers: o.headers } : {}),
      ...(o.body !== undefined ? { body: o.body } : {}),
      ...(o.path || o.headersFor ? { setupRequest: (req: Request) => ({ ...req, ...(o.path ? { path: o.path() } : {}), ...(o.headersFor ? { headers: o.headersFor() } : {}) }) } : {}),
    };
    const inst = autocannon(
      { url: o.urls ?? o.url, connections: o.connections, duration: o.durationS, timeout: 10, requests: [request] },
      (err, res) => {
        if (err) return reject(err);
        const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
        const sorted = Float64Array.from(samples).sort();
        let sum = 0;
        for (const v of sorted) sum += v;
        const ok = res['2xx'];
        resolve({
          requests: ok + res.non2xx,
          // Successful responses only: a failing target must not look fast.
          rps: ok / (res.duration || elapsedS),
          p50Ms: percentile(sorted, 50),
          p90Ms: percentile(sorted, 90),
          p99Ms: percentile(sorted, 99),
          meanMs: sorted.length ? sum / sorted.length : NaN,
          maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
          non2xx: res.non2xx,
          errors: res.errors,
          timeouts: res.timeouts,
          statusCodes,
          durationS: res.duration || elapsedS,
          cpu: cpuBetween(cpu0, cpuSnapshot()),
        });
      },
    );
    inst.on('response', (_client, statusCode, _bytes, ms) => {
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) samples.push(ms);
    });
  });
}
