import { describe, expect, it } from 'vitest';
import { HealthTracker } from '../../src/routing/health.ts';
import { rankCandidates } from '../../src/routing/select.ts';
import type { ProviderRuntime } from '../../src/routing/providers.ts';
import { resolvePrice } from '../../src/pricing/prices.ts';
import type { ProviderAdapter } from '../../providers/types.ts';

function provider(id: string, priority: number, perSecond720: number, extra: Partial<ProviderRuntime> = {}): ProviderRuntime {
  const spec = { per_second: { '720p': perSecond720, '1080p': perSecond720 * 2 } };
  return {
    id,
    type: 'fal',
    adapter: {} as ProviderAdapter,
    priority,
    enabled: true,
    baseUrl: 'http://x',
    timeoutMs: 1000,
    models: new Map([['kling-v3-motion-control', { enabled: true, spec, price: resolvePrice(spec) }]]),
    ...extra,
  };
}

describe('health', () => {
  it('opens after N failures, half-opens after the cooldown with one trial, closes on success', () => {
    let now = 0;
    const h = new HealthTracker({ failuresToOpen: 2, cooldownMs: 1000, now: () => now });
    h.failure('a', 'm');
    expect(h.state('a', 'm')).toBe('closed');
    h.failure('a', 'm');
    expect(h.state('a', 'm')).toBe('open');
    expect(h.allows('a', 'm')).toBe(false);
    now = 1000;
    expect(h.state('a', 'm')).toBe('half_open');
    expect(h.allows('a', 'm')).toBe(true);
    h.begin('a', 'm');
    expect(h.allows('a', 'm')).toBe(false); // one trial at a time
    h.success('a', 'm');
    expect(h.state('a', 'm')).toBe('closed');
    expect(h.snapshot('a', 'm')).toMatchObject({ consecutive_failures: 0, success_rate: 1 / 3 });
  });

  it('a failed half-open trial opens the circuit again', () => {
    let now = 0;
    const h = new HealthTracker({ failuresToOpen: 1, cooldownMs: 100, now: () => now });
    h.failure('a', 'm');
    now = 100;
    h.failure('a', 'm', h.begin('a', 'm'));
    expect(h.state('a', 'm')).toBe('open');
    expect(h.snapshot('a', 'm').open_until).toBe(200);
  });

  it('reports the median completion time', () => {
    const h = new HealthTracker({ failuresToOpen: 1, cooldownMs: 1, now: () => 0 });
    for (const s of [30, 10, 20]) h.completed('a', 'm', s);
    expect(h.p50Completion('a', 'm')).toBe(20);
  });
});

describe('rankCandidates', () => {
  const health = () => new HealthTracker({ failuresToOpen: 1, cooldownMs: 1000, now: () => 0 });
  const input = { model: 'kling-v3-motion-control' as const, quality: '720p' as const, units: 5 };

  it('orders by tier, then estimated cost, then success rate', () => {
    const h = health();
    h.success('c', input.model);
    h.success('d', input.model);
    h.failure('d', input.model);
    const ranked = rankCandidates([provider('a', 1, 0.01), provider('b', 0, 0.2), provider('c', 0, 0.1), provider('d', 0, 0.1)], h, input);
    expect(ranked.map((c) => c.provider.id)).toEqual(['c', 'b', 'a', 'd']);
    expect(ranked[0]).toMatchObject({ unitCostMicros: 100_000, estimateMicros: 500_000, eligible: true, reason: null });
    expect(ranked[3]).toMatchObject({ eligible: false, reason: 'circuit open after repeated failures' });
  });

  it('gives each excluded provider its reason', () => {
    const ranked = rankCandidates(
      [provider('off', 0, 0.1, { enabled: false }), provider('tried', 0, 0.1), provider('other', 0, 0.1), provider('none', 0, 0.1, { models: new Map() })],
      health(),
      { ...input, exclude: new Set(['tried']), onlyProvider: 'tried' },
    );
    expect(Object.fromEntries(ranked.map((c) => [c.provider.id, c.reason]))).toEqual({
      off: 'provider disabled',
      tried: 'already tried for this task',
      other: 'element belongs to tried',
      none: 'does not serve kling-v3-motion-control',
    });
  });
});
