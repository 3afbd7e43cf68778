/** GET /admin/providers — every provider with its tier, prices and health. */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';

const SEVERITY = { closed: 0, half_open: 1, open: 2 } as const;

export function adminProviderRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  app.get('/admin/providers', (c) => {
    const { providers, health } = deps.ctx;
    const data = providers.map((p) => {
      const snapshots = [...p.models.keys()].map((model) => health.snapshot(p.id, model));
      return {
        id: p.id,
        type: p.type,
        enabled: p.enabled,
        priority: p.priority,
        base_url: p.baseUrl,
        // The provider's health is its least healthy model's; per-model detail is under `models`.
        health: snapshots.sort((a, b) => SEVERITY[b.state] - SEVERITY[a.state] || b.consecutive_failures - a.consecutive_failures)[0] ?? null,
        models: Object.fromEntries(
          [...p.models].map(([model, m]) => [model, { enabled: m.enabled, price: m.spec, health: health.snapshot(p.id, model) }]),
        ),
      };
    });
    return c.json({ object: 'list', data });
  });
}
