/** Learned health (windows, percentiles, breaker, persistence round trip) and route merging. */
import { describe, expect, it } from 'vitest';
import type { ProviderHealthRow } from '../../src/db/schema/index.ts';
import { HealthTracker, type HealthPersistence } from '../../src/routing/health.ts';
import { effectiveRoute } from '../../src/routing/preferences.ts';

/** Rows kept in a Map: the persistence contract without a database. */
function memory(): HealthPersistence & { rows: Map<string, ProviderHealthRow> } {
  const rows = new Map<string, ProviderHealthRow>();
  return {
    rows,
    all: async () => [...rows.values()],
    put: async (list) => void list.forEach((r) => rows.set(`${r.provider}/${r.model}`, { ...r })),
  };
}

describe('HealthTracker', () => {
  it('separates provider failures from input rejections and computes p50/p95', () => {
    let now = 0;
    const h = new HealthTracker({ failuresToOpen: 3, cooldownMs: 1_000, now: () => now });
    h.success('p', 'm');
    h.success('p', 'm');
    h.failure('p', 'm');
    h.rejected('p', 'm');
    for (let s = 1; s <= 20; s++) h.completed('p', 'm', s);
    const snap = h.snapshot('p', 'm');
    expect(snap.success_rate).toBeCloseTo(2 / 3);
    expect(snap.rejection_rate).toBe(0.25);
    expect(snap.p50_completion_s).toBe(10);
    expect(snap.p95_completion_s).toBe(19);
    expect(snap.consecutive_failures).toBe(0); // the rejection proved the provider up
  });

  it('opens after repeated failures, half-opens for one trial, and releases a trial without a verdict', () => {
    let now = 0;
    const h = new HealthTracker({ failuresToOpen: 2, cooldownMs: 1_000, now: () => now });
    h.failure('p', 'm');
    h.failure('p', 'm');
    expect(h.state('p', 'm')).toBe('open');
    expect(h.snapshot('p', 'm').next_probe_at).toBe(1_000);
    now = 1_000;
    expect(h.allows('p', 'm')).toBe(true);
    const trial = h.begin('p', 'm');
    expect(h.allows('p', 'm')).toBe(false);
    h.release('p', 'm', trial);
    expect(h.allows('p', 'm')).toBe(true);
  });

  it('only the holder of a half-open trial frees it', () => {
    let now = 0;
    const h = new HealthTracker({ failuresToOpen: 1, cooldownMs: 1_000, now: () => now });
    const a = h.begin('p', 'm'); // sent while the circuit was closed, still in flight
    const b = h.begin('p', 'm');
    h.failure('p', 'm', b);
    h.release('p', 'm', b);
    now = 2_000;
    expect(h.state('p', 'm')).toBe('half_open');
    const c = h.begin('p', 'm');
    expect(c.admitted).toBe(true);
    expect(h.allows('p', 'm')).toBe(false);
    h.release('p', 'm', a); // A ends without a verdict: C's trial is still out
    expect(h.allows('p', 'm')).toBe(false);
    h.release('p', 'm', c);
    expect(h.allows('p', 'm')).toBe(true);
  });

  it('admits one trial even when both callers checked allows() first', () => {
    let now = 0;
    const h = new HealthTracker({ failuresToOpen: 1, cooldownMs: 1_000, now: () => now });
    h.failure('p', 'm');
    now = 1_000;
    expect([h.allows('p', 'm'), h.allows('p', 'm')]).toEqual([true, true]);
    const first = h.begin('p', 'm');
    const second = h.begin('p', 'm');
    expect([first.admitted, second.admitted]).toEqual([true, false]);
    // The refused caller's release does not free the trial it never held.
    h.release('p', 'm', second);
    expect(h.allows('p', 'm')).toBe(false);
    h.failure('p', 'm', first);
    expect(h.state('p', 'm')).toBe('open');
    expect(h.begin('p', 'm').admitted).toBe(false);
  });

  it('writes behind and a new tracker reads back what was learned', async () => {
    const store = memory();
    let now = 5_000;
    const first = new HealthTracker({ failuresToOpen: 1, cooldownMs: 60_000, now: () => now, persistence: store });
    first.completed('fal', 'm', 42.04);
    first.success('fal', 'm');
    first.failure('rep', 'm');
    await first.close();
    expect(store.rows.size).toBe(2);
    now = 6_000;
    const second = new HealthTracker({ failuresToOpen: 1, cooldownMs: 60_000, now: () => now, persistence: store });
    await second.refresh();
    expect(second.p50Completion('fal', 'm')).toBe(42);
    expect(second.successRate('fal', 'm')).toBe(1);
    expect(second.state('rep', 'm')).toBe('open');
    expect(second.snapshot('rep', 'm').open_until).toBe(65_000);
  });

  it('replicas share through the store: a refresh takes what another wrote, never over its own unsaved changes', async () => {
    const store = memory();
    let now = 1_000;
    const a = new HealthTracker({ failuresToOpen: 1, cooldownMs: 60_000, now: () => now, persistence: store });
    const b = new HealthTracker({ failuresToOpen: 1, cooldownMs: 60_000, now: () => now, persistence: store });
    a.failure('fal', 'm');
    await a.flush();
    expect(b.state('fal', 'm')).toBe('closed');
    now = 2_000;
    await b.refresh();
    expect(b.state('fal', 'm')).toBe('open');
    // b learns something of its own and has not written it yet: a's newer row does not erase it.
    b.completed('kie', 'm', 30);
    now = 3_000;
    a.completed('kie', 'm', 90);
    await a.flush();
    await b.refresh();
    expect(b.p50Completion('kie', 'm')).toBe(30);
    now = 4_000;
    await b.close();
    await a.refresh();
    expect(a.p50Completion('kie', 'm')).toBe(30);
  });
});

describe('effectiveRoute', () => {
  it('replaces the key default field by field', () => {
    const key = JSON.stringify({ only: ['a', 'b'], max_cost_usd: 2, sort: 'speed' });
    expect(effectiveRoute(key, { only: ['c'] })).toEqual({ only: ['c'], max_cost_usd: 2, sort: 'speed' });
    expect(effectiveRoute(key, undefined)).toEqual({ only: ['a', 'b'], max_cost_usd: 2, sort: 'speed' });
    expect(effectiveRoute(null, { ignore: ['x'] })).toEqual({ ignore: ['x'] });
    expect(effectiveRoute(null, undefined)).toBeUndefined();
  });
});
