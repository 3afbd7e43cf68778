/**
 * GET /v1/usage (CONTRACT §9): the calling key's own usage — the rows and rules of `/admin/spend`
 * (UTC creation days, both ends inclusive; a task's later refund stays on its creation day) over
 * this key's tasks only, without the operator's upstream cost or margin. JSON or CSV.
 */
import type { Hono } from 'hono';
import type { AppEnv } from './env.ts';
import type { AppDeps } from './deps.ts';
import { parseSpendQuery, queryOf, sendSpendReport } from './admin/spend.ts';

export function usageRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { now } = deps.ctx;
  app.get('/v1/usage', (c) => {
    const q = parseSpendQuery(queryOf(c), now());
    return sendSpendReport(c, deps, q, { from: q.from, to: q.to, keyId: c.get('apiKey').id }, 'client', 'usage', 'usage_report');
  });
}
