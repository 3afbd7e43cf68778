/**
 * Routing preferences (CONTRACT §7): `route` on create and estimate, and a key's default set with
 * PATCH /admin/keys/{id}. They narrow the platform's policy, never widen it: they can only remove
 * candidates or reorder them; a disabled provider, an open circuit or an element pin still rule.
 */
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { microsToUsd, usdToMicros, type Micros } from '../pricing/money.ts';
import type { Candidate } from './select.ts';

const providerList = z.array(z.string().min(1).max(100)).max(50, 'at most 50 providers');

/** The `route` object, as create, estimate and PATCH /admin/keys/{id} accept it. */
export const routeSchema = z.strictObject({
  order: providerList.optional().describe('Try these providers first, in this order; then the rest by policy'),
  only: providerList.optional().describe('No provider outside this list'),
  ignore: providerList.optional().describe('Never these providers'),
  sort: z.enum(['price', 'speed']).optional().describe('price: cheapest first within a tier (default); speed: lowest learned p50 completion first'),
  allow_fallbacks: z.boolean().optional().describe('false: only the first eligible candidate is tried; its failure ends the task'),
  max_cost_usd: z.number().finite().positive().max(1e6).optional().describe('The most this task may cost the key, failover included'),
});

export type RoutePrefs = z.infer<typeof routeSchema>;

const LISTS = ['order', 'only', 'ignore'] as const;

/** A request's route over the key's default, field by field (a field the request sets replaces the key's). */
export function effectiveRoute(keyDefault: string | null | undefined, request: RoutePrefs | undefined): RoutePrefs | undefined {
  const base = keyDefault ? (JSON.parse(keyDefault) as RoutePrefs) : undefined;
  if (!base) return request;
  if (!request) return base;
  const merged: RoutePrefs = { ...base };
  for (const [field, value] of Object.entries(request)) if (value !== undefined) (merged as Record<string, unknown>)[field] = value;
  return merged;
}

/** Refuse provider ids that are not configured, naming the first one (`route.only[1]`). */
export function checkProviderIds(route: RoutePrefs | undefined, known: readonly { id: string }[], prefix = 'route'): void {
  if (!route) return;
  const ids = new Set(known.map((p) => p.id));
  for (const list of LISTS) {
    const values = route[list] ?? [];
    values.forEach((id, i) => {
      if (!ids.has(id)) {
        const param = `${prefix}.${list}[${i}]`;
        throw new ApiError('invalid_parameter', `${param}: unknown provider "${id}"`, { param });
      }
    });
  }
}

/** The route's own reason to exclude a provider (before price), or null. */
export function routeExclusion(route: RoutePrefs | undefined, providerId: string, triedCount: number): string | null {
  if (!route) return null;
  if (route.only && !route.only.includes(providerId)) return 'not in route.only';
  if (route.ignore?.includes(providerId)) return 'in route.ignore';
  if (route.allow_fallbacks === false && triedCount > 0) return 'no fallback (route.allow_fallbacks is false)';
  return null;
}

export const OVER_MAX_COST = 'over max_cost_usd';

/** The route's price ceiling for the whole task, micro-USD, or null. */
export function maxCostMicros(route: RoutePrefs | undefined): Micros | null {
  return route?.max_cost_usd === undefined ? null : usdToMicros(route.max_cost_usd);
}

/**
 * When only the price ceiling stands between the task and a provider: 400 `max_cost_exceeded`
 * (nothing is held yet), naming the cheapest price the key could have had.
 */
export function assertWithinMaxCost(candidates: readonly Candidate[], route: RoutePrefs | undefined): void {
  if (candidates.some((c) => c.eligible)) return;
  const priced = candidates.filter((c) => c.reason?.startsWith(OVER_MAX_COST));
  if (priced.length === 0) return;
  const cheapest = priced.reduce((a, b) => (b.keyEstimateMicros < a.keyEstimateMicros ? b : a));
  throw new ApiError(
    'max_cost_exceeded',
    `route.max_cost_usd: ${route?.max_cost_usd} is below the cheapest eligible price, $${microsToUsd(cheapest.keyEstimateMicros)} (${cheapest.provider.id})`,
    { param: 'route.max_cost_usd' },
  );
}

/** The route in force for a request: its own (provider ids checked) over the key's default. */
export function resolveRoute(keyDefault: string | null | undefined, request: RoutePrefs | undefined, known: readonly { id: string }[]): RoutePrefs | undefined {
  checkProviderIds(request, known);
  return effectiveRoute(keyDefault, request);
}
