/**
 * POST /v1/videos/generations/estimate — the same checks and quote as create; creates nothing.
 * Every amount is what the calling key would pay (CONTRACT §3): with list prices that is the list
 * price whichever provider runs it, so no candidate shows the operator's upstream cost (the margin).
 */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { prepareDeps, type AppDeps } from '../deps.ts';
import { readJson } from '../middleware.ts';
import { prepare } from '../../tasks/prepare.ts';
import { quote, rankFor } from '../../tasks/submit.ts';
import { resolveRoute } from '../../routing/preferences.ts';
import { microsToUsd } from '../../pricing/money.ts';
import { ApiError } from '../../errors.ts';

export function estimateRoute(app: Hono<AppEnv>, deps: AppDeps): void {
  app.post('/v1/videos/generations/estimate', async (c) => {
    const key = c.get('apiKey');
    const p = await prepare(await readJson(c), key.id, prepareDeps(deps));
    const route = resolveRoute(key.route, p.route, deps.ctx.providers);
    // Without a list price the key pays the upstream cost of the provider that runs it (keyEstimateMicros).
    const candidates = rankFor(deps.ctx, p, route);
    let estimateUsd: number | null = null;
    let chosen: string | null = null;
    try {
      const q = quote(deps.ctx, p, route, candidates);
      estimateUsd = microsToUsd(q.estimateMicros);
      chosen = q.candidates[0]!.provider.id;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
    return c.json({
      model: p.model,
      billing_rule: p.rule,
      billable_units: p.units,
      reference_duration_s: p.durationS,
      estimate_usd: estimateUsd,
      chosen,
      candidates: candidates.map((cand) => ({
        provider: cand.provider.id,
        priority: cand.provider.priority,
        estimate_usd: cand.provider.models.has(p.model) ? microsToUsd(cand.keyEstimateMicros) : null,
        eligible: cand.eligible,
        reason: cand.reason,
      })),
    });
  });
}
