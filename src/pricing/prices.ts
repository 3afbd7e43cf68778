/**
 * Price tables: what a provider charges per model (config over adapter defaults), and what a key
 * is billed (list prices when configured, else the upstream cost). All in integer micro-USD.
 */
import type { CanonicalModel, PriceSpec, Quality } from '../../providers/types.ts';
import { usdToMicros, type Micros } from './money.ts';

export type BillingRule = 'per_second' | 'per_request';

/** A price resolved to micro-USD per unit for each quality. */
export interface UnitPrice {
  rule: BillingRule;
  /** micro-USD per billable unit (second or request), by quality. */
  perUnit: Record<Quality, Micros>;
}

/** A price spec (USD or credits) → micro-USD per unit. */
export function resolvePrice(spec: PriceSpec): UnitPrice {
  const rate = spec.credit_usd ?? 1;
  if ('per_second' in spec) {
    return {
      rule: 'per_second',
      perUnit: { '720p': usdToMicros(spec.per_second['720p'] * rate), '1080p': usdToMicros(spec.per_second['1080p'] * rate) },
    };
  }
  const each = usdToMicros(spec.per_request * rate);
  return { rule: 'per_request', perUnit: { '720p': each, '1080p': each } };
}

/** The billing rule a model is sold by. */
export const RULE_BY_MODEL: Record<CanonicalModel, BillingRule> = {
  'kling-v3-motion-control': 'per_second',
  'kling-custom-element': 'per_request',
};
