/**
 * Sibling of issue 8 #6: overrides stored before the price-rule check existed come back at start.
 * A stored price whose rule does not fit its model is skipped with a warning; the rest still applies.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { applyStoredOverrides, overrideRow } from '../../src/routing/overrides.ts';
import { buildProviders } from '../../src/routing/providers.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, stream), lines };
}

describe('stored provider overrides at start', () => {
  it('skips a stored price whose rule does not fit the model, with a warning, and applies the rest', async () => {
    const config = parseConfig({
      providers: [{ id: 'wav-main', type: 'wavespeed', api_key: 'k', models: { 'kling-v3-motion-control': { price: { per_second: { '720p': 0.1, '1080p': 0.2 } } }, 'kling-custom-element': {} } }],
    });
    const [provider] = buildProviders(config);
    const motionBefore = provider!.models.get('kling-v3-motion-control');
    // As PATCH stored it before the check: a per-request price on a per-second model (a $5 hold for $0.50 meant).
    const row = overrideRow(
      'wav-main',
      {
        priority: 7,
        models: {
          'kling-v3-motion-control': { price: { per_request: 0.5 } },
          'kling-custom-element': { price: { per_request: 0.03 } },
        },
      },
      Date.now(),
    );
    const { log, lines } = capture();
    expect(() => applyStoredOverrides([provider!], [row], log)).not.toThrow();
    await new Promise((r) => setImmediate(r));

    expect(provider!.models.get('kling-v3-motion-control')).toBe(motionBefore);
    expect(provider!.models.get('kling-v3-motion-control')!.spec).toEqual({ per_second: { '720p': 0.1, '1080p': 0.2 } });
    expect(provider!.models.get('kling-custom-element')!.spec).toEqual({ per_request: 0.03 });
    expect(provider!.priority).toBe(7);
    const warned = lines.filter((l) => l.param === 'models.kling-v3-motion-control.price');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, provider: 'wav-main' });
    expect(String(warned[0]!.err)).toContain('is billed per_second');
  });
});
