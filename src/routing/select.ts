/**
 * Choosing where a task goes: every configured provider becomes a candidate with its estimate and,
 * when it cannot take the task, the reason why. Eligible ones come first, ordered by priority tier,
 * then estimated upstream cost, then recent success rate.
 */
import type { CanonicalModel, Quality } from '../../providers/types.ts';
import type { Micros } from '../pricing/money.ts';
import type { HealthTracker } from './health.ts';
import type { ProviderRuntime } from './providers.ts';

export interface Candidate {
  provider: ProviderRuntime;
  /** What this provider charges per unit, micro-USD. */
  unitCostMicros: Micros;
  /** unitCost × units: the upstream cost of running the task here. */
  estimateMicros: Micros;
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
}

/** All candidates, eligible first in the order to try them. */
export function rankCandidates(providers: readonly ProviderRuntime[], health: HealthTracker, input: SelectInput): Candidate[] {
  const out: Candidate[] = [];
  for (const provider of providers) {
    const served = provider.models.get(input.model);
    const unitCostMicros = served ? served.price.perUnit[input.quality] : 0;
    out.push({
      provider,
      unitCostMicros,
      estimateMicros: unitCostMicros * input.units,
      ...eligibility(provider, health, input),
    });
  }
  return out.sort((a, b) => compare(a, b, health, input.model));
}

function eligibility(p: ProviderRuntime, health: HealthTracker, input: SelectInput): { eligible: boolean; reason: string | null } {
  const served = p.models.get(input.model);
  let reason: string | null = null;
  if (!p.enabled) reason = 'provider disabled';
  else if (!served) reason = `does not serve ${input.model}`;
  else if (!served.enabled) reason = `${input.model} disabled on this provider`;
  else if (input.onlyProvider !== undefined && input.onlyProvider !== p.id) reason = `element belongs to ${input.onlyProvider}`;
  else if (input.exclude?.has(p.id)) reason = 'already tried for this task';
  else if (!health.allows(p.id, input.model)) reason = `circuit ${health.state(p.id, input.model)} after repeated failures`;
  return { eligible: reason === null, reason };
}

function compare(a: Candidate, b: Candidate, health: HealthTracker, model: string): number {
  if (a.eligible !== b.eligible) return a.eligible ? -1 : 1;
  if (a.provider.priority !== b.provider.priority) return a.provider.priority - b.provider.priority;
  if (a.estimateMicros !== b.estimateMicros) return a.estimateMicros - b.estimateMicros;
  const ra = health.successRate(a.provider.id, model) ?? 1;
  const rb = health.successRate(b.provider.id, model) ?? 1;
  if (ra !== rb) return rb - ra;
  return a.provider.id < b.provider.id ? -1 : a.provider.id > b.provider.id ? 1 : 0;
}
