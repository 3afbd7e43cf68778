import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { WAVESPEED_ELEMENT_MODEL, WAVESPEED_MOTION_MODELS, wavespeedFactory } from '../../providers/wavespeed/adapter.ts';
import { startWavespeedEmulator } from '../../providers/wavespeed/emulator.ts';
import { listen } from '../../providers/emulator-kit.ts';
import { QUALITIES, type CanonicalModel } from '../../providers/types.ts';
import { RUN_MS, elementRequest, expectProviderError, motionRequest, runContractSuite, useContract, type ContractTarget } from './harness.ts';

const target: ContractTarget = {
  name: 'wavespeed',
  factory: wavespeedFactory,
  start: startWavespeedEmulator,
  credentials: { apiKey: 'ws-test-key' },
  assertAuth: (headers) => expect(headers.authorization).toBe('Bearer ws-test-key'),
  supports: { cancel: false, elements: true, lookup: false },
};

runContractSuite(target);

const elementRef = (upstreamId: string) => ({ upstreamId, model: 'kling-custom-element' as const, quality: '720p' as const });

describe('wavespeed specifics', () => {
  const ctx = useContract(target);
  const auth = { authorization: 'Bearer ws-test-key', 'content-type': 'application/json' };

  it.each(QUALITIES)('submits %s to its std|pro model path with WaveSpeed input names', async (quality) => {
    const { adapter, emu } = ctx();
    await adapter.create({ request: motionRequest(quality, { orientation: 'video', keepOriginalSound: false }), attemptId: 'a' });
    const model = [...emu.state.tasks.values()][0]!.meta.model;
    expect(model).toBe(WAVESPEED_MOTION_MODELS[quality]);
    expect(model).toBe(quality === '720p' ? 'kwaivgi/kling-v3.0-std/motion-control' : 'kwaivgi/kling-v3.0-pro/motion-control');
    expect(emu.state.lastCreateBody).toEqual({
      image: 'https://media.example.com/character.png',
      video: 'https://media.example.com/dance.mp4',
      character_orientation: 'video',
      keep_original_sound: false,
      prompt: 'dance in the rain',
    });
  });

  it('reads the output from data.outputs[0] of the result envelope', async () => {
    const { adapter, emu, advance, ref } = ctx();
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
    advance(RUN_MS);
    const raw = (await (await fetch(`${emu.url}/api/v3/predictions/${upstreamId}/result`, { headers: auth })).json()) as {
      code: number; data: { outputs: string[] };
    };
    expect(raw.code).toBe(200);
    expect(await adapter.status(ref(upstreamId))).toEqual({ state: 'completed', progress: 100, outputs: [raw.data.outputs[0]] });
  });

  it('passes the webhook URL as ?webhook=', async () => {
    const { adapter, emu } = ctx();
    const hook = 'https://gw.example.com/hooks/ws?x=1&y=2';
    await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: hook });
    expect([...emu.state.tasks.values()][0]!.meta.webhookUrl).toBe(hook);
  });

  it('creates an element with the assumed body and reads its id from outputs[0]', async () => {
    const { adapter, emu, advance } = ctx();
    const { upstreamId } = await adapter.create({ request: elementRequest, attemptId: 'el' });
    const task = [...emu.state.tasks.values()][0]!;
    expect(task.meta.model).toBe(WAVESPEED_ELEMENT_MODEL);
    expect(emu.state.lastCreateBody).toEqual({
      name: 'MyCharacter',
      description: 'A young male character with short hair',
      reference_type: 'video_refer',
      element_video_list: ['https://media.example.com/face.mp4'],
    });
    advance(RUN_MS);
    expect(await adapter.status(elementRef(upstreamId))).toEqual({ state: 'completed', progress: 100, elementId: task.meta.elementId });
  });

  it('uses an element it created in motion control, sent as a numeric element_list id', async () => {
    const { adapter, emu, advance, ref } = ctx();
    const el = await adapter.create({ request: elementRequest, attemptId: 'el' });
    advance(RUN_MS);
    const { elementId } = await adapter.status(elementRef(el.upstreamId));
    expect(elementId).toMatch(/^\d+$/);
    const created = await adapter.create({ request: motionRequest('720p', { orientation: 'video', elementIds: [elementId!] }), attemptId: 'm' });
    expect(emu.state.lastCreateBody).toMatchObject({ character_orientation: 'video', element_list: [{ element_id: Number(elementId) }] });
    const sent = (emu.state.lastCreateBody as { element_list: { element_id: unknown }[] }).element_list[0]!.element_id;
    expect(typeof sent).toBe('number');
    advance(RUN_MS);
    expect((await adapter.status(ref(created.upstreamId))).state).toBe('completed');
  });

  it('an element id the provider does not know → invalid_request', async () => {
    const { adapter, emu } = ctx();
    await expectProviderError(adapter.create({ request: motionRequest('720p', { orientation: 'video', elementIds: ['307212335131305'] }), attemptId: 'a' }), 'invalid_request');
    expect(emu.state.tasksCreated).toBe(0);
  });

  it.each([
    ['1200', false], ['1400', false], ['1401', false], ['1402', false], ['1403', false],
    ['1405', true], ['5000', true], ['5003', true], ['5004', true],
  ])('classifies a failed prediction by its code %s (providerSide %s)', async (code, providerSide) => {
    const { adapter, emu, advance, ref } = ctx();
    emu.state.fates.push({ outcome: 'fail', code, providerSide: !providerSide, message: 'Failed to download image from the provided URL.' });
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'f' });
    advance(RUN_MS);
    expect((await adapter.status(ref(upstreamId))).error).toEqual({
      code: `wavespeed_${code}`, message: 'Failed to download image from the provided URL.', providerSide,
    });
  });

  describe('emulator as a protocol peer', () => {
    const std = '/api/v3/kwaivgi/kling-v3.0-std/motion-control';
    const input = { image: 'https://m/i.png', video: 'https://m/v.mp4', character_orientation: 'image' };
    const post = (url: string, body: unknown, headers: Record<string, string> = auth) =>
      fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });

    it.each(['image', 'video', 'character_orientation'])('requires %s (400 in the envelope)', async (field) => {
      const { emu } = ctx();
      const res = await post(emu.url + std, { ...input, [field]: undefined });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 400, message: expect.stringContaining(field), data: null });
    });

    it('takes element_list only with a finished element of its own and orientation video', async () => {
      const { emu, advance } = ctx();
      const el = (await (await post(`${emu.url}/api/v3/${WAVESPEED_ELEMENT_MODEL}`, {
        name: 'n', description: 'd', reference_type: 'video_refer', element_video_list: ['https://m/f.mp4'],
      })).json()) as { data: { id: string } };
      const elementId = String(emu.state.tasks.get(el.data.id)!.meta.elementId);
      const withElement = { ...input, character_orientation: 'video', element_list: [{ element_id: Number(elementId) }] };
      const notReady = await post(emu.url + std, withElement);
      expect(notReady.status).toBe(400);
      expect(await notReady.json()).toMatchObject({ code: 400, message: expect.stringContaining('element_list'), data: null });
      advance(RUN_MS);
      expect((await post(emu.url + std, { ...withElement, character_orientation: 'image' })).status).toBe(400);
      expect((await post(emu.url + std, { ...withElement, element_list: [{ element_id: elementId }] })).status).toBe(200);
      expect((await post(emu.url + std, withElement)).status).toBe(200);
    });

    it('answers 401 to another scheme and 404 to an unknown model', async () => {
      const { emu } = ctx();
      const res = await post(emu.url + std, input, { ...auth, authorization: 'Key ws-test-key' });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 401, data: null });
      expect((await post(`${emu.url}/api/v3/kwaivgi/kling-v9/motion-control`, input)).status).toBe(404);
    });

    it('creates a prediction in status created, in the documented envelope', async () => {
      const { emu } = ctx();
      const res = await post(emu.url + std, input);
      expect(await res.json()).toMatchObject({
        code: 200, message: 'success',
        data: { id: expect.any(String), status: 'created', outputs: [], urls: { get: expect.stringContaining('/api/v3/predictions/') } },
      });
    });
  });
});

describe('wavespeed readings (scripted upstream and webhooks)', () => {
  async function scripted(status: number, body: unknown) {
    const app = new Hono();
    app.all('*', (c) => c.json(body as object, status as 200));
    return listen(app);
  }
  async function pollOnce(body: unknown, model: CanonicalModel = 'kling-v3-motion-control', status = 200) {
    const server = await scripted(status, body);
    try {
      return await wavespeedFactory.create({ baseUrl: server.url, apiKey: 'k' }).status({ upstreamId: 'p1', model, quality: '720p' });
    } finally {
      await server.close();
    }
  }
  const ok = (data: unknown) => ({ code: 200, message: 'success', data });

  it.each([
    ['JSON text, number id beyond 2^53', '{"element_id": 12345678901234567890, "element_name": "x"}', '12345678901234567890'],
    ['JSON text, string id', '{"element_id":"860023","element_type":"video_refer"}', '860023'],
    ['an object', { element_id: 307212335131305, element_name: 'handsome man' }, '307212335131305'],
  ])('reads the element id from outputs[0] as %s', async (_label, output, elementId) => {
    expect(await pollOnce(ok({ id: 'p1', status: 'completed', outputs: [output] }), 'kling-custom-element')).toEqual({
      state: 'completed', progress: 100, elementId,
    });
  });

  it('a failure without a code is provider-side', async () => {
    expect(await pollOnce(ok({ id: 'p1', status: 'failed', error: 'boom' }))).toEqual({
      state: 'failed', error: { code: 'prediction_failed', message: 'boom', providerSide: true },
    });
  });

  it.each([
    [200, { code: 401, message: 'bad key', data: null }, 'auth'],
    [200, { code: 404, message: 'no such prediction', data: null }, 'not_found'],
    [500, { code: 500, message: 'oops', data: null }, 'unavailable'],
    [200, ok({ id: 'p1', status: 'completed', outputs: [] }), 'bad_response'],
    [200, ok({ id: 'p1', status: 'waiting' }), 'bad_response'],
  ] as const)('HTTP %i %o → %s', async (status, body, kind) => {
    await expectProviderError(pollOnce(body, 'kling-v3-motion-control', status), kind);
  });

  it('parses webhook deliveries as the bare prediction', () => {
    const adapter = wavespeedFactory.create({ apiKey: 'k' });
    const h = new Headers();
    const motion = { id: 'p1', model: WAVESPEED_MOTION_MODELS['720p'], status: 'completed', outputs: ['https://w/o.mp4'], error: '' };
    expect(adapter.parseWebhook!(motion, h)).toEqual({ upstreamId: 'p1', status: { state: 'completed', progress: 100, outputs: ['https://w/o.mp4'] } });
    const element = { id: 'p2', model: WAVESPEED_ELEMENT_MODEL, status: 'completed', outputs: ['{"element_id": 42}'] };
    expect(adapter.parseWebhook!(element, h)?.status).toEqual({ state: 'completed', progress: 100, elementId: '42' });
    const failed = { id: 'p3', model: WAVESPEED_MOTION_MODELS['1080p'], status: 'failed', code: 1200, error: 'sensitive' };
    expect(adapter.parseWebhook!(failed, h)?.status.error).toEqual({ code: 'wavespeed_1200', message: 'sensitive', providerSide: false });
    expect(adapter.parseWebhook!(ok(motion), h)).toBeNull();
  });
});
