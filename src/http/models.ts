/** GET /v1/models — canonical models, their limits and the range of prices across providers. */
import type { Hono } from 'hono';
import type { AppEnv } from './env.ts';
import type { AppDeps } from './deps.ts';
import { MODEL_INFO } from '../catalog/models.ts';
import { QUALITIES } from '../../providers/types.ts';
import { microsToUsd } from '../pricing/money.ts';

export function modelRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  app.get('/v1/models', (c) => {
    const data = MODEL_INFO.map((m) => {
      const list = deps.ctx.listPrices.get(m.id);
      const offers = deps.ctx.providers.flatMap((p) => {
        const served = p.models.get(m.id);
        return p.enabled && served?.enabled ? [served.price] : [];
      });
      const range = Object.fromEntries(
        QUALITIES.map((q) => {
          const prices = list ? [list.perUnit[q]] : offers.map((o) => o.perUnit[q]);
          return [q, prices.length ? { min_usd: microsToUsd(Math.min(...prices)), max_usd: microsToUsd(Math.max(...prices)) } : null];
        }),
      );
      return { id: m.id, object: 'model', billing_rule: m.billing_rule, limits: m.limits, price_per_unit: range, providers: offers.length };
    });
    return c.json({ object: 'list', data });
  });
}
