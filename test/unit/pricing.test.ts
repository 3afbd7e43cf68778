import { describe, expect, it } from 'vitest';
import { microsToUsd, usdToMicros } from '../../src/pricing/money.ts';
import { resolvePrice } from '../../src/pricing/prices.ts';

describe('money', () => {
  it('converts USD to integer micros and back exactly', () => {
    expect(usdToMicros(0.1134)).toBe(113_400);
    expect(usdToMicros(0.0139)).toBe(13_900);
    expect(microsToUsd(113_400 * 7)).toBe(0.7938);
    expect(microsToUsd(1)).toBe(0.000001);
  });

  it('sums of micros do not drift the way float dollars do', () => {
    let micros = 0;
    for (let i = 0; i < 1000; i++) micros += usdToMicros(0.1);
    expect(microsToUsd(micros)).toBe(100);
  });
});

describe('prices', () => {
  it('resolves per-second USD prices by quality', () => {
    expect(resolvePrice({ per_second: { '720p': 0.126, '1080p': 0.168 } })).toEqual({ rule: 'per_second', perUnit: { '720p': 126_000, '1080p': 168_000 } });
  });

  it('converts credits with credit_usd', () => {
    expect(resolvePrice({ per_second: { '720p': 11, '1080p': 18 }, credit_usd: 0.005 }).perUnit).toEqual({ '720p': 55_000, '1080p': 90_000 });
    expect(resolvePrice({ per_second: { '720p': 0.9, '1080p': 1.2 }, credit_usd: 0.14 }).perUnit).toEqual({ '720p': 126_000, '1080p': 168_000 });
  });

  it('per-request prices are the same for every quality', () => {
    expect(resolvePrice({ per_request: 0.0139 })).toEqual({ rule: 'per_request', perUnit: { '720p': 13_900, '1080p': 13_900 } });
  });
});
