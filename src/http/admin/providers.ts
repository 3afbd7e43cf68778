/**
 * GET /admin/providers — every provider with its tier, prices and health.
 * PATCH /admin/providers/{id} — enable/disable, re-tier, re-price: live at once, stored (survives a
 * restart) and audited in one transaction.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';
import { readJson } from '../middleware.ts';
import { audit } from './audit.ts';
import { ApiError, paramFromPath } from '../../errors.ts';
import { priceRuleMismatch, priceSchema } from '../../config.ts';
import type { HealthTracker } from '../../routing/health.ts';
import type { ProviderRuntime } from '../../routing/providers.ts';
import { applyOverride, mergeOverride, overridden, OverrideError, overrideOf, overrideRow, type ProviderOverride } from '../../routing/overrides.ts';
import { providerById } from '../../tasks/context.ts';

const SEVERITY = { closed: 0, half_open: 1, open: 2 } as const;

type ProviderViewInput = Pick<ProviderRuntime, 'id' | 'type' | 'enabled' | 'priority' | 'baseUrl' | 'models'>;

/** One provider as admins see it (an element of GET /admin/providers's `data`). */
export function providerView(p: ProviderViewInput, health: HealthTracker) {
  const snapshots = [...p.models.keys()].map((model) => health.snapshot(p.id, model));
  return {
    id: p.id,
    type: p.type,
    enabled: p.enabled,
    priority: p.priority,
    base_url: p.baseUrl,
    // The provider's health is its least healthy model's; per-model detail is under `models`.
    health: snapshots.sort((a, b) => SEVERITY[b.state] - SEVERITY[a.state] || b.consecutive_failures - a.consecutive_failures)[0] ?? null,
    models: Object.fromEntries([...p.models].map(([model, m]) => [model, { enabled: m.enabled, price: m.spec, health: health.snapshot(p.id, model) }])),
  };
}

export const patchBody = z.strictObject({
  enabled: z.boolean().optional(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  models: z.record(z.string(), z.strictObject({ enabled: z.boolean().optional(), price: priceSchema.optional() })).optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const param = paramFromPath([...issue.path, issue.keys[0]!])!;
    throw new ApiError('unknown_field', `${param}: unknown field`, { param });
  }
  const param = paramFromPath(issue.path);
  throw new ApiError('invalid_parameter', `${param ?? 'body'}: ${issue.message}`, { param });
}

export function adminProviderRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, health, now } = deps.ctx;

  app.get('/admin/providers', (c) => c.json({ object: 'list', data: deps.ctx.providers.map((p) => providerView(p, health)) }));

  app.patch('/admin/providers/:id', async (c) => {
    const id = c.req.param('id');
    const provider = providerById(deps.ctx, id);
    if (!provider) throw new ApiError('not_found', `no provider ${id}`, { param: 'id' });
    const change: ProviderOverride = parse(patchBody, await readJson(c));
    for (const [model, entry] of Object.entries(change.models ?? {})) {
      const wrong = entry.price && priceRuleMismatch(model, entry.price);
      if (wrong) throw new ApiError('invalid_parameter', `models.${model}.price: ${wrong}`, { param: `models.${model}.price` });
    }
    let next;
    try {
      next = overridden(provider, change);
    } catch (err) {
      if (!(err instanceof OverrideError)) throw err;
      throw new ApiError('invalid_parameter', `${err.param}: ${err.message}`, { param: err.param });
    }
    const before = providerView(provider, health);
    const after = providerView({ ...provider, ...next }, health);
    await store.transaction(async (tx) => {
      const stored = await tx.admin.override(id);
      await tx.admin.putOverride(overrideRow(id, mergeOverride(stored ? overrideOf(stored) : {}, change), now()));
      await audit(deps, tx, c, 'provider.update', id, before, after);
    });
    // Stored first: a failed write leaves the live provider as it was.
    applyOverride(provider, change);
    return c.json(providerView(provider, health));
  });
}
