/**
 * The providers the gateway routes to, built from the config: each with its adapter, tier and the
 * resolved price of every model it serves (config over adapter defaults).
 */
import type { CanonicalModel, ProviderAdapter, PriceSpec } from '../../providers/types.ts';
import { MODELS } from '../../providers/types.ts';
import { ADAPTERS } from '../../providers/registry.ts';
import type { Config, ProviderConfig } from '../config.ts';
import { ConfigError } from '../config.ts';
import { resolvePrice, type UnitPrice } from '../pricing/prices.ts';

export interface ProviderModel {
  enabled: boolean;
  spec: PriceSpec;
  price: UnitPrice;
}

export interface ProviderRuntime {
  id: string;
  type: string;
  adapter: ProviderAdapter;
  priority: number;
  enabled: boolean;
  baseUrl: string;
  timeoutMs: number;
  models: Map<CanonicalModel, ProviderModel>;
}

/** Build runtime providers; an unknown type or a served model without any price is a config error. */
export function buildProviders(config: Config, now: () => number = Date.now): ProviderRuntime[] {
  return config.providers.map((p, i) => buildProvider(p, i, now));
}

function buildProvider(p: ProviderConfig, index: number, now: () => number): ProviderRuntime {
  const factory = ADAPTERS.get(p.type);
  if (!factory) {
    throw new ConfigError(`invalid config: providers[${index}].type: unknown adapter "${p.type}" (known: ${[...ADAPTERS.keys()].join(', ')})`);
  }
  const baseUrl = p.base_url ?? factory.defaultBaseUrl;
  const adapter = factory.create({
    baseUrl,
    apiKey: p.api_key,
    accessKey: p.access_key,
    secretKey: p.secret_key,
    timeoutMs: p.timeout_ms,
    now,
  });
  const models = new Map<CanonicalModel, ProviderModel>();
  // Without a models list the provider serves every model its adapter can run, at default prices.
  const listed: NonNullable<ProviderConfig['models']> =
    p.models ?? Object.fromEntries(adapter.capabilities.models.map((m) => [m, { enabled: true }]));
  for (const model of MODELS) {
    const entry = listed[model];
    if (!entry) continue;
    if (!adapter.capabilities.models.includes(model)) {
      throw new ConfigError(`invalid config: providers[${index}].models.${model}: adapter "${p.type}" cannot run this model`);
    }
    const spec = entry.price ?? factory.defaultPrices[model]?.price;
    if (!spec) throw new ConfigError(`invalid config: providers[${index}].models.${model}.price: required (the adapter has no default)`);
    models.set(model, { enabled: entry.enabled ?? true, spec, price: resolvePrice(spec) });
  }
  return { id: p.id, type: p.type, adapter, priority: p.priority, enabled: p.enabled, baseUrl, timeoutMs: p.timeout_ms, models };
}
