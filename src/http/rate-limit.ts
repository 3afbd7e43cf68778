/**
 * Per-key request rate limits: token buckets per API key (in memory: limits are per process).
 * - every client route: `rps`/`burst` (off by default);
 * - create and estimate (POST /v1/videos/generations[/estimate]) together: `create_rps`/`create_burst`,
 *   on by default, because each can make the gateway read a remote video header (issue 8 #9).
 * Media probes started while handling create or estimate count against the key's probe bound
 * ({@link withProbeKey}). Over a limit → 429 `rate_limited` with `Retry-After`.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.ts';
import { withProbeKey } from '../media/probe.ts';
import type { AppEnv } from './env.ts';

interface Bucket {
  tokens: number;
  at: number;
}

/** The `server.rate_limit` config, plus a clock. */
export interface RateLimitOptions {
  /** Sustained requests per second per key on every client route; 0 turns the limit off. */
  rps: number;
  /** Requests a key may send at once before the rate applies. */
  burst: number;
  /** Sustained creates + estimates per second per key; 0 turns this limit off. */
  create_rps?: number;
  /** Creates + estimates a key may send at once before `create_rps` applies. */
  create_burst?: number;
  now: () => number;
}

const SUBMIT_PATHS = new Set(['/v1/videos/generations', '/v1/videos/generations/estimate']);

/** One token bucket per key: `take(id)` throws 429 when the key is over. */
function buckets(rps: number, burst: number, what: string, now: () => number) {
  const byKey = new Map<string, Bucket>();
  return function take(id: string): void {
    const at = now();
    const b = byKey.get(id) ?? { tokens: burst, at };
    b.tokens = Math.min(burst, b.tokens + ((at - b.at) / 1000) * rps);
    b.at = at;
    byKey.set(id, b);
    if (b.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / rps));
      throw new ApiError('rate_limited', `over ${rps} ${what} per second for this key`, { headers: { 'retry-after': String(retryAfter) } });
    }
    b.tokens -= 1;
  };
}

export function rateLimit(opts: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const all = opts.rps > 0 ? buckets(opts.rps, opts.burst, 'requests', opts.now) : null;
  const createRps = opts.create_rps ?? 0;
  const submits = createRps > 0 ? buckets(createRps, opts.create_burst ?? 100, 'creates and estimates', opts.now) : null;
  return async function rateLimitMiddleware(c, next) {
    const id = c.get('apiKey').id;
    all?.(id);
    if (c.req.method !== 'POST' || !SUBMIT_PATHS.has(c.req.path)) return next();
    submits?.(id);
    return withProbeKey(id, next);
  };
}
