/**
 * Per-key request rate limit: a token bucket per API key (in memory: limits are per process).
 * Over the limit → 429 `rate_limited` with `Retry-After`.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.ts';
import type { AppEnv } from './env.ts';

interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimitOptions {
  /** Sustained requests per second per key; 0 turns the limit off. */
  rps: number;
  /** Requests a key may send at once before the rate applies. */
  burst: number;
  now: () => number;
}

export function rateLimit(opts: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const buckets = new Map<string, Bucket>();
  return async function rateLimitMiddleware(c, next) {
    if (opts.rps <= 0) return next();
    const id = c.get('apiKey').id;
    const now = opts.now();
    const b = buckets.get(id) ?? { tokens: opts.burst, at: now };
    b.tokens = Math.min(opts.burst, b.tokens + ((now - b.at) / 1000) * opts.rps);
    b.at = now;
    buckets.set(id, b);
    if (b.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / opts.rps));
      throw new ApiError('rate_limited', `over ${opts.rps} requests per second for this key`, { headers: { 'retry-after': String(retryAfter) } });
    }
    b.tokens -= 1;
    return next();
  };
}
