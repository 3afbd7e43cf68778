/** The client API's edges: validation, errors, auth, reads, lists; nothing written on bad input. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } }] });
});
afterAll(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

const longString = (n: number) => 'x'.repeat(n);

describe('bad input → a 4xx envelope naming the param; nothing written, nothing sent upstream', () => {
  const cases: [string, () => Record<string, unknown> | string, number, string, string | null][] = [
    ['malformed JSON', () => '{"model": "kling-v3-motion-control",', 400, 'invalid_json', null],
    ['an array body', () => '[1,2]', 400, 'invalid_parameter', null],
    ['no model', () => ({ image_urls: ['https://a/b.png'] }), 400, 'missing_parameter', 'model'],
    ['unknown model', () => ({ ...gw.motion(), model: 'sora-9' }), 400, 'unknown_model', 'model'],
    ['two images', () => ({ ...gw.motion(), image_urls: [`${gw.media.url}/img.png`, `${gw.media.url}/img.png`] }), 400, 'invalid_parameter', 'image_urls'],
    ['no video', () => ({ ...gw.motion(), video_urls: [] }), 400, 'invalid_parameter', 'video_urls'],
    ['wrong type', () => ({ ...gw.motion(), image_urls: 'https://a/b.png' }), 400, 'invalid_parameter', 'image_urls'],
    ['bad quality', () => ({ ...gw.motion(), quality: '4k' }), 400, 'invalid_parameter', 'quality'],
    ['too-long prompt', () => ({ ...gw.motion(), prompt: longString(2501) }), 400, 'invalid_parameter', 'prompt'],
    ['unknown top-level field', () => ({ ...gw.motion(), seed: 3 }), 400, 'unknown_field', 'seed'],
    ['unknown model_params field', () => ({ ...gw.motion(), model_params: { mode: 'pro' } }), 400, 'unknown_field', 'model_params.mode'],
    ['sound as a string', () => ({ ...gw.motion(), model_params: { keep_original_sound: 'yes' } }), 400, 'invalid_parameter', 'model_params.keep_original_sound'],
    ['not a URL', () => ({ ...gw.motion(), video_urls: ['dance.mp4'] }), 400, 'invalid_media_url', 'video_urls[0]'],
    ['a URL over 2048 chars', () => ({ ...gw.motion(), image_urls: [`https://a.example/${longString(2050)}`] }), 400, 'invalid_media_url', 'image_urls[0]'],
    ['an ftp URL', () => ({ ...gw.motion(), image_urls: ['ftp://a.example/x.png'] }), 400, 'invalid_media_url', 'image_urls[0]'],
    ['unknown element', () => ({ ...gw.motion(), model_params: { element_list: [{ element_id: 'el_nope' }] } }), 400, 'unknown_element', 'model_params.element_list[0].element_id'],
    [
      'element name over 20 chars',
      () => ({
        model: 'kling-custom-element',
        model_params: { element_name: longString(21), element_description: 'd', reference_type: 'video_refer', element_video_list: { video_url: `${gw.media.url}/v/5.mp4` } },
      }),
      400,
      'invalid_parameter',
      'model_params.element_name',
    ],
    [
      'element description missing',
      () => ({ model: 'kling-custom-element', model_params: { element_name: 'A', reference_type: 'video_refer', element_video_list: { video_url: `${gw.media.url}/v/5.mp4` } } }),
      400,
      'missing_parameter',
      'model_params.element_description',
    ],
    ['prototype pollution key', () => JSON.stringify(gw.motion()).replace('{', '{"__proto__":{"admin":true},'), 400, 'unknown_field', '__proto__'],
    ['missing image', () => '{"model":"kling-v3-motion-control"}', 400, 'missing_parameter', 'image_urls'],
  ];

  it.each(cases)('%s', async (_name, make, status, code, param) => {
    const tasksBefore = (await gw.store.tasks.all()).length;
    const createsBefore = gw.emulators['fal-main']!.state.createsReceived;
    const body = make();
    const res = await gw.call('POST', '/v1/videos/generations', typeof body === 'string' ? { raw: body, headers: { 'content-type': 'application/json' } } : { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.error).toMatchObject({ code, param, type: 'invalid_request_error' });
    expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'));
    expect((await gw.store.tasks.all()).length).toBe(tasksBefore);
    expect(gw.emulators['fal-main']!.state.createsReceived).toBe(createsBefore);
  });

  it('non-JSON is 415, an oversized body 413', async () => {
    const form = await gw.call('POST', '/v1/videos/generations', { raw: 'model=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('unsupported_media_type');
    const huge = await gw.call('POST', '/v1/videos/generations', { body: { ...gw.motion(), prompt: longString(300_000) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
  });

  it('element creation with no provider that creates elements is a 503 naming why', async () => {
    const res = await gw.call('POST', '/v1/videos/generations', {
      body: {
        model: 'kling-custom-element',
        model_params: { element_name: 'Me', element_description: 'a face', reference_type: 'video_refer', element_video_list: { video_url: `${gw.media.url}/v/5.mp4` } },
      },
    });
    expect(res.status).toBe(503);
    expect(res.body.error.message).toContain('fal-main: does not serve kling-custom-element');
  });
});

describe('auth, reads and lists', () => {
  it('401 without or with a bad key; admin and client keys are not interchangeable', async () => {
    expect((await gw.call('GET', '/v1/tasks', { key: null })).body.error).toMatchObject({ code: 'missing_api_key', type: 'authentication_error' });
    expect((await gw.call('GET', '/v1/tasks', { key: 'rr_nope' })).status).toBe(401);
    expect((await gw.call('GET', '/v1/tasks', { key: ADMIN_KEY })).status).toBe(403);
    expect((await gw.call('GET', '/admin/keys')).status).toBe(403);
  });

  it('a revoked key is refused at once', async () => {
    const k = await gw.createKey({ name: 'soon revoked' });
    expect((await gw.call('GET', '/v1/tasks', { key: k.key })).status).toBe(200);
    expect((await gw.call('DELETE', `/admin/keys/${k.id}`, { key: ADMIN_KEY })).body.revoked).toBe(true);
    expect((await gw.call('GET', '/v1/tasks', { key: k.key })).status).toBe(401);
  });

  it('reads a task by both paths; another key gets 404', async () => {
    const created = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(4) });
    const a = await gw.call('GET', `/v1/tasks/${created.body.id}`);
    const b = await gw.call('GET', `/v1/videos/generations/${created.body.id}`);
    expect(a.body).toEqual(b.body);
    const other = await gw.createKey({ name: 'other' });
    const foreign = await gw.call('GET', `/v1/tasks/${created.body.id}`, { key: other.key });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
  });

  it('lists newest first with a cursor', async () => {
    const k = await gw.createKey({ name: 'lister' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      gw.advance(1);
      ids.push((await gw.call('POST', '/v1/videos/generations', { body: gw.motion(4), key: k.key })).body.id);
    }
    const page1 = await gw.call('GET', '/v1/tasks?limit=2', { key: k.key });
    expect(page1.body.object).toBe('list');
    expect(page1.body.data.map((t: { id: string }) => t.id)).toEqual([ids[2], ids[1]]);
    expect(page1.body.has_more).toBe(true);
    const page2 = await gw.call('GET', `/v1/tasks?limit=2&after=${ids[1]}`, { key: k.key });
    expect(page2.body.data.map((t: { id: string }) => t.id)).toEqual([ids[0]]);
    expect(page2.body.has_more).toBe(false);
    expect((await gw.call('GET', '/v1/tasks?limit=0', { key: k.key })).body.error.param).toBe('limit');
  });

  it('404 and 405 use the envelope; ops routes answer', async () => {
    const missing = await gw.call('GET', '/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const wrong = await gw.call('DELETE', '/v1/models');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect((await gw.call('GET', '/healthz', { key: null })).body.status).toBe('ok');
    expect((await gw.call('GET', '/metrics', { key: null })).body).toContain('reelroute_http_requests_total');
    expect((await gw.call('GET', '/openapi.json', { key: null })).body.openapi).toBe('3.1.0');
    const models = await gw.call('GET', '/v1/models');
    expect(models.body.data[0]).toMatchObject({ id: 'kling-v3-motion-control', price_per_unit: { '720p': { min_usd: 0.1, max_usd: 0.1 } } });
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After once a key exceeds its rate, and recovers as time passes', async () => {
    const limited = await startGateway({ providers: [{ id: 'fal-main', type: 'fal' }], config: { server: { rate_limit: { rps: 2, burst: 3 } } } });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await limited.call('GET', '/v1/tasks')).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const res = await limited.call('GET', '/v1/tasks');
      expect(res.body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
      expect(res.headers.get('retry-after')).toBe('1');
      limited.advance(1_000);
      expect((await limited.call('GET', '/v1/tasks')).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
