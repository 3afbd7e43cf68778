/** A price whose rule does not fit its model is refused at start, naming the field (issue 8 #6). */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, priceRuleMismatch } from '../../src/config.ts';
import { ADAPTERS } from '../../providers/registry.ts';

const MC = 'kling-v3-motion-control';
const EL = 'kling-custom-element';

describe('price rule must fit the model', () => {
  it.each([
    [{ providers: [{ id: 'wav', type: 'wavespeed', models: { [MC]: { price: { per_request: 0.5 } } } }] }, `providers[0].models.${MC}.price`, 'per_second'],
    [{ providers: [{ id: 'wav', type: 'wavespeed', models: { [EL]: { price: { per_second: { '720p': 0.1, '1080p': 0.2 } } } } }] }, `providers[0].models.${EL}.price`, 'per_request'],
    [{ billing: { models: { [MC]: { per_request: 0.5 } } } }, `billing.models.${MC}`, 'per_second'],
    [{ billing: { models: { [EL]: { per_second: { '720p': 0.01, '1080p': 0.02 }, credit_usd: 0.005 } } } }, `billing.models.${EL}`, 'per_request'],
  ])('%j is refused naming %s', (doc, field, rule) => {
    expect(() => parseConfig(doc, {})).toThrow(ConfigError);
    expect(() => parseConfig(doc, {})).toThrow(`${field}: ${field.includes(MC) ? MC : EL} is billed ${rule}`);
  });

  it('fitting prices are accepted', () => {
    const c = parseConfig({
      billing: { models: { [MC]: { per_second: { '720p': 0.1134, '1080p': 0.1512 } }, [EL]: { per_request: 0.0139 } } },
      providers: [{ id: 'wav', type: 'wavespeed', models: { [MC]: { price: { per_second: { '720p': 0.1, '1080p': 0.2 } } }, [EL]: { price: { per_request: 0.01 } } } }],
    });
    expect(c.providers).toHaveLength(1);
  });

  it('every adapter default price fits its model (defaults are used when the config gives none)', () => {
    const misfits = [...ADAPTERS].flatMap(([type, factory]) =>
      Object.entries(factory.defaultPrices).flatMap(([model, d]) => {
        const wrong = d && priceRuleMismatch(model, d.price);
        return wrong ? [`${type}: ${wrong}`] : [];
      }),
    );
    expect(misfits).toEqual([]);
  });
});
