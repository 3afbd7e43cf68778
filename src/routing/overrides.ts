/**
 * Live changes to providers (`PATCH /admin/providers/{id}`). One function, {@link applyOverride},
 * puts an override on a provider: the admin route calls it for the change it just stored, and the
 * runtime calls it at start for every stored override over the providers built from the config.
 */
import type { Logger } from 'pino';
import type { CanonicalModel, PriceSpec } from '../../providers/types.ts';
import { MODELS } from '../../providers/types.ts';
import { ADAPTERS } from '../../providers/registry.ts';
import { priceRuleMismatch } from '../config.ts';
import type { ProviderOverrideRow } from '../db/schema/index.ts';
import { resolvePrice } from '../pricing/prices.ts';
import type { ProviderRuntime } from './providers.ts';

export interface ModelOverride {
  enabled?: boolean;
  price?: PriceSpec;
}

/** Absent fields leave the provider's current value in place. */
export interface ProviderOverride {
  enabled?: boolean;
  priority?: number;
  models?: Record<string, ModelOverride>;
}

/** An override that does not fit the provider; `param` names the field (`models.<model>.price`). */
export class OverrideError extends Error {
  override name = 'OverrideError';
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

export type OverriddenState = Pick<ProviderRuntime, 'enabled' | 'priority' | 'models'>;

/** The provider's state with `o` applied, validated; the provider itself is not touched. */
export function overridden(p: ProviderRuntime, o: ProviderOverride): OverriddenState {
  const models = new Map(p.models);
  for (const [name, entry] of Object.entries(o.models ?? {})) {
    const param = `models.${name}`;
    if (!(MODELS as readonly string[]).includes(name)) throw new OverrideError(param, `unknown model "${name}" (known: ${MODELS.join(', ')})`);
    const model = name as CanonicalModel;
    if (!p.adapter.capabilities.models.includes(model)) throw new OverrideError(param, `adapter "${p.type}" cannot run ${model}`);
    // Checked here, not only in the PATCH route: overrides stored before this rule existed come back at start.
    const wrong = entry.price && priceRuleMismatch(model, entry.price);
    if (wrong) throw new OverrideError(`${param}.price`, wrong);
    const current = models.get(model);
    const spec = entry.price ?? current?.spec ?? ADAPTERS.get(p.type)?.defaultPrices[model]?.price;
    if (!spec) throw new OverrideError(`${param}.price`, 'required (the adapter has no default)');
    models.set(model, { enabled: entry.enabled ?? current?.enabled ?? true, spec, price: resolvePrice(spec) });
  }
  return { enabled: o.enabled ?? p.enabled, priority: o.priority ?? p.priority, models };
}

/** Apply `o` to the provider in place (routing reads it at once); throws OverrideError, changing nothing, if it does not fit. */
export function applyOverride(p: ProviderRuntime, o: ProviderOverride): void {
  const next = overridden(p, o);
  p.enabled = next.enabled;
  p.priority = next.priority;
  for (const [model, entry] of next.models) {
    if (p.models.get(model) !== entry) p.models.set(model, entry);
  }
}

/** At start: stored overrides over the config-built providers. What no longer fits the config is skipped with a warning. */
export function applyStoredOverrides(providers: readonly ProviderRuntime[], rows: readonly ProviderOverrideRow[], log: Logger): void {
  for (const row of rows) {
    const provider = providers.find((p) => p.id === row.providerId);
    if (!provider) {
      log.warn({ provider: row.providerId }, 'stored provider override for a provider not in the config; ignored');
      continue;
    }
    const { models, ...top } = overrideOf(row);
    applyOverride(provider, top);
    for (const [model, entry] of Object.entries(models ?? {})) {
      try {
        applyOverride(provider, { models: { [model]: entry } });
      } catch (err) {
        if (!(err instanceof OverrideError)) throw err;
        log.warn({ provider: provider.id, param: err.param, err: err.message }, 'stored provider override no longer fits the config; ignored');
      }
    }
  }
}

/** A later change over an earlier one, field by field (and model by model). */
export function mergeOverride(earlier: ProviderOverride, later: ProviderOverride): ProviderOverride {
  const out: ProviderOverride = { ...defined(earlier), ...defined(later) };
  if (earlier.models || later.models) {
    const models: Record<string, ModelOverride> = { ...earlier.models };
    for (const [m, entry] of Object.entries(later.models ?? {})) models[m] = { ...models[m], ...defined(entry) };
    out.models = models;
  }
  return out;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function overrideOf(row: ProviderOverrideRow): ProviderOverride {
  return {
    ...(row.enabled !== null ? { enabled: row.enabled } : {}),
    ...(row.priority !== null ? { priority: row.priority } : {}),
    ...(row.models !== null ? { models: JSON.parse(row.models) as Record<string, ModelOverride> } : {}),
  };
}

export function overrideRow(providerId: string, o: ProviderOverride, now: number): ProviderOverrideRow {
  return {
    providerId,
    enabled: o.enabled ?? null,
    priority: o.priority ?? null,
    models: o.models ? JSON.stringify(o.models) : null,
    updatedAt: now,
  };
}
