/**
 * Choosing where a task goes: every configured provider becomes a candidate with its estimate and,
 * when it cannot take the task, the reason why. Eligible ones come first: those the route's
 * `order` names, in that order; then by priority tier; then by estimated cost (or learned speed
 * with `sort: speed`); then recent success rate.
 */
import type { CanonicalModel, Quality } from '../../providers/types.ts';
import { microsToUsd, type Micros } from '../pricing/money.ts';
import type { HealthTracker } from './health.ts';
import { maxCostMicros, OVER_MAX_COST, routeExclusion, type RoutePrefs } from './preferences.ts';
import type { ProviderRuntime } from './providers.ts';

export interface Candidate {
  provider: ProviderRuntime;
  /** What this provider charges per unit, micro-USD. */
  unitCostMicros: Micros;
  /** unitCost × units: the upstream cost of running the task here. */
  estimateMicros: Micros;
  /** What the key would pay if the task ran here: the list price when there is one, else the upstream cost. */
  keyEstimateMicros: Micros;
  eligible: boolean;
  reason: string | null;
}

export interface SelectInput {
  model: CanonicalModel;
  quality: Quality;
  units: number;
  /** Only this provider may run it (element affinity). */
  onlyProvider?: string;
  /** Providers already tried for this task. */
  exclude?: ReadonlySet<string>;
  /** The routing preferences in force (request over key default). */
  route?: RoutePrefs;
  /** The key's unit price when it pays a list price (the same on every provider), micro-USD. */
  listUnitPriceMicros?: Micros;
}

/** All candidates, eligible first in the order to try them. */
export function rankCandidates(providers: readonly ProviderRuntime[], health: HealthTracker, input: SelectInput): Candidate[] {
  const out: Candidate[] = [];
  for (const provider of providers) {
    const served = provider.models.get(input.model);
    const unitCostMicros = served ? served.price.perUnit[input.quality] : 0;
    const keyEstimateMicros = (input.listUnitPriceMicros ?? unitCostMicros) * input.units;
    out.push({
      provider,
      unitCostMicros,
      estimateMicros: unitCostMicros * input.units,
      keyEstimateMicros,
      ...eligibility(provider, health, input, keyEstimateMicros),
    });
  }
  return out.sort((a, b) => compare(a, b, health, input));
}

function eligibility(p: ProviderRuntime, health: HealthTracker, input: SelectInput, keyEstimate: Micros): { eligible: boolean; reason: string | null } {
  const served = p.models.get(input.model);
  const ceiling = maxCostMicros(input.route);
  let reason: string | null = null;
  if (!p.enabled) reason = 'provider disabled';
  else if (!served) reason = `does not serve ${input.model}`;
  else if (!served.enabled) reason = `${input.model} disabled on this provider`;
  else if (input.onlyProvider !== undefined && input.onlyProvider !== p.id) reason = `element belongs to ${input.onlyProvider}`;
  else if (input.exclude?.has(p.id)) reason = 'already tried for this task';
  else if (!health.allows(p.id, input.model)) reason = `circuit ${health.state(p.id, input.model)} after repeated failures`;
  else reason = routeExclusion(input.route, p.id, input.exclude?.size ?? 0);
  // Last, so this reason means "only the price stands in the way" (max_cost_exceeded relies on it).
  if (reason === null && ceiling !== null && keyEstimate > ceiling) reason = `${OVER_MAX_COST} (would cost $${microsToUsd(keyEstimate)})`;
  return { eligible: reason === null, reason };
}

function compare(a: Candidate, b: Candidate, health: HealthTracker, input: SelectInput): number {
  if (a.eligible !== b.eligible) return a.eligible ? -1 : 1;
  const order = input.route?.order;
  if (order) {
    const ia = rank(order, a.provider.id);
    const ib = rank(order, b.provider.id);
    if (ia !== ib) return ia - ib;
  }
  if (a.provider.priority !== b.provider.priority) return a.provider.priority - b.provider.priority;
  if (input.route?.sort === 'speed') {
    // Unknown speed sorts after every known one; among unknowns, price decides.
    const sa = health.p50Completion(a.provider.id, input.model) ?? Infinity;
    const sb = health.p50Completion(b.provider.id, input.model) ?? Infinity;
    if (sa !== sb) return sa - sb;
  }
  if (a.estimateMicros !== b.estimateMicros) return a.estimateMicros - b.estimateMicros;
  const ra = health.successRate(a.provider.id, input.model) ?? 1;
  const rb = health.successRate(b.provider.id, input.model) ?? 1;
  if (ra !== rb) return rb - ra;
  return a.provider.id < b.provider.id ? -1 : a.provider.id > b.provider.id ? 1 : 0;
}

function rank(order: readonly string[], id: string): number {
  const i = order.indexOf(id);
  return i === -1 ? Infinity : i;
}
