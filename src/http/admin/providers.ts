/** GET /admin/providers — every provider with its tier, prices and health. */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';

export function adminProviderRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  app.get('/admin/providers', (c) => {
    const { providers, health } = deps.ctx;
    const data = providers.map((p) => ({
      id: p.id,
      type: p.type,
      enabled: p.enabled,
      priority: p.priority,
      base_url: p.baseUrl,
      models: Object.fromEntries(
        [...p.models].map(([model, m]) => [model, { enabled: m.enabled, price: m.spec, health: health.snapshot(p.id, model) }]),
      ),
    }));
    return c.json({ object: 'list', data });
  });
}
