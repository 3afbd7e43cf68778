import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';

describe('config', () => {
  it('fills defaults for an empty document', () => {
    const c = parseConfig({});
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(c.routing.max_attempts).toBe(3);
    expect(c.callbacks).toMatchObject({ allow_insecure: false, timeout_ms: 10_000, max_retries: 3 });
    expect(c.providers).toEqual([]);
  });

  it('replaces ${VAR} from the environment', () => {
    const c = parseConfig({ providers: [{ id: 'fal-main', type: 'fal', api_key: 'Key-${FAL_KEY}' }] }, { FAL_KEY: 's3cret' });
    expect(c.providers[0]!.api_key).toBe('Key-s3cret');
  });

  it('a missing variable names the field', () => {
    expect(() => parseConfig({ providers: [{ id: 'fal-main', type: 'fal', api_key: '${NOPE}' }] }, {})).toThrow(
      new ConfigError('providers[0].api_key: environment variable NOPE is not set'),
    );
  });

  it.each([
    [{ routing: { max_attempts: 0 } }, 'routing.max_attempts'],
    [{ server: { port: 'eighty' } }, 'server.port'],
    [{ providers: [{ id: 'Bad Id', type: 'fal' }] }, 'providers[0].id'],
    [{ providers: [{ id: 'a', type: 'fal', models: { 'kling-v3-motion-control': { price: { per_second: { '720p': -1, '1080p': 1 } } } } }] }, 'providers[0].models.kling-v3-motion-control.price'],
    [{ providers: [{ id: 'a', type: 'fal', priorty: 1 }] }, 'providers[0]'],
    [{ billing: { models: { 'kling-v3-motion-control': { per_second: { '720p': 0.1 } } } } }, 'billing.models.kling-v3-motion-control'],
  ])('a bad field is named: %j', (doc, field) => {
    expect(() => parseConfig(doc, {})).toThrow(field);
  });

  it('refuses duplicate provider ids', () => {
    expect(() => parseConfig({ providers: [{ id: 'a', type: 'fal' }, { id: 'a', type: 'replicate' }] })).toThrow('providers[1].id: duplicate id');
  });
});
