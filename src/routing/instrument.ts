/**
 * Upstream call metrics without touching the adapters: each provider's adapter is wrapped so every
 * create/status/cancel/lookup is counted, timed and, on failure, classified by its error kind.
 */
import { ProviderError, type ProviderAdapter } from '../../providers/types.ts';
import type { Metrics } from '../metrics.ts';

/** Adapter method → the `op` label. */
const OPS: Record<string, string> = { create: 'create', status: 'status', cancel: 'cancel', findByAttemptId: 'lookup' };

/** The same adapter, its upstream calls measured under `provider`. */
export function instrumentAdapter(adapter: ProviderAdapter, provider: string, metrics: Metrics): ProviderAdapter {
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      const op = typeof prop === 'string' ? OPS[prop] : undefined;
      if (!op || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const end = metrics.upstreamSeconds.startTimer({ provider, op });
        try {
          const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          metrics.upstreamRequests.inc({ provider, op, outcome: 'ok' });
          return result;
        } catch (err) {
          metrics.upstreamRequests.inc({ provider, op, outcome: 'error' });
          metrics.upstreamErrors.inc({ provider, kind: err instanceof ProviderError ? err.kind : 'bad_response' });
          throw err;
        } finally {
          end();
        }
      };
    },
  });
}
