import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { evolinkFactory } from '../../providers/evolink/adapter.ts';
import { startEvolinkEmulator } from '../../providers/evolink/emulator.ts';
import { listen } from '../../providers/emulator-kit.ts';
import { QUALITIES } from '../../providers/types.ts';
import { RUN_MS, elementRequest, expectProviderError, motionRequest, runContractSuite, useContract, type ContractTarget } from './harness.ts';

const target: ContractTarget = {
  name: 'evolink',
  factory: evolinkFactory,
  start: startEvolinkEmulator,
  credentials: { apiKey: 'sk-evolink-test' },
  assertAuth: (headers) => expect(headers.authorization).toBe('Bearer sk-evolink-test'),
  // No documented cancel endpoint: see the assumptions block in providers/evolink/adapter.ts.
  supports: { cancel: false, elements: true, lookup: false },
};

runContractSuite(target);

const elementRef = (upstreamId: string) => ({ upstreamId, model: 'kling-custom-element' as const, quality: '720p' as const });

describe('evolink specifics', () => {
  const ctx = useContract(target);

  it.each(QUALITIES)('submits %s motion control in the CONTRACT.md §3 shape', async (quality) => {
    const { adapter, emu } = ctx();
    const hook = 'https://gw.example.com/hooks/evolink';
    await adapter.create({ request: motionRequest(quality, { orientation: 'video', keepOriginalSound: false }), attemptId: 'a', webhookUrl: hook });
    expect(emu.state.lastCreateBody).toEqual({
      model: 'kling-v3-motion-control',
      image_urls: ['https://media.example.com/character.png'],
      video_urls: ['https://media.example.com/dance.mp4'],
      quality,
      prompt: 'dance in the rain',
      model_params: { character_orientation: 'video', keep_original_sound: false },
      callback_url: hook,
    });
  });

  it('creates an element, reads result_data.element_id, and passes it upstream in element_list', async () => {
    const { adapter, emu, advance, ref } = ctx();
    const el = await adapter.create({ request: elementRequest, attemptId: 'el' });
    expect(el.upstreamId).toMatch(/^task-unified-\d+-[a-z0-9]{8}$/);
    expect(emu.state.lastCreateBody).toEqual({
      model: 'kling-custom-element',
      model_params: {
        element_name: 'MyCharacter',
        element_description: 'A young male character with short hair',
        reference_type: 'video_refer',
        element_video_list: { video_url: 'https://media.example.com/face.mp4' },
      },
    });
    expect((await adapter.status(elementRef(el.upstreamId))).state).toBe('pending');
    advance(RUN_MS);
    const done = await adapter.status(elementRef(el.upstreamId));
    const upstreamElement = [...emu.state.tasks.values()][0]!.meta.elementId;
    expect(done).toEqual({ state: 'completed', progress: 100, elementId: upstreamElement });
    expect(typeof done.elementId).toBe('string');

    const motion = await adapter.create({ request: motionRequest('1080p', { orientation: 'video', elementIds: [done.elementId!] }), attemptId: 'm' });
    expect(emu.state.lastCreateBody).toMatchObject({ model_params: { element_list: [{ element_id: done.elementId }] } });
    advance(RUN_MS);
    expect((await adapter.status(ref(motion.upstreamId, '1080p'))).state).toBe('completed');
  });

  it('an element id this account never created is the input at fault', async () => {
    const { adapter, emu } = ctx();
    const err = await expectProviderError(adapter.create({ request: motionRequest('720p', { elementIds: ['123456789'] }), attemptId: 'x' }), 'invalid_request');
    expect(err.code).toBe('invalid_parameters');
    expect(emu.state.tasksCreated).toBe(0);
  });

  it.each([
    ['generation_timeout', true],
    ['resource_exhausted', true],
    ['quota_exceeded', true],
    ['service_unavailable', true],
    ['generation_failed_no_content', true],
    ['unknown_error', true],
    ['content_policy_violation', false],
    ['invalid_parameters', false],
    ['image_processing_error', false],
    ['image_dimension_mismatch', false],
  ])('classifies the task error code %s by code (providerSide %s)', async (code, providerSide) => {
    const { adapter, emu, advance, ref } = ctx();
    emu.state.fates.push({ outcome: 'fail', code, providerSide: !providerSide, message: 'a message that must not matter' });
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'f' });
    advance(RUN_MS);
    expect((await adapter.status(ref(upstreamId))).error).toEqual({ code, message: 'a message that must not matter', providerSide });
  });

  it.each([
    [429, { error: { code: 'quota_exceeded', message: 'slow down', type: 'rate_limit_error' } }, 'rate_limited'],
    [400, { error: { code: 'image_dimension_mismatch', message: 'resize', type: 'invalid_request_error' } }, 'invalid_request'],
    [400, { error: { code: 'content_policy_violation', message: 'blocked', type: 'invalid_request_error' } }, 'invalid_request'],
    [503, { error: { code: 'service_unavailable', message: 'later', type: 'upstream_error' } }, 'unavailable'],
    [402, { error: { code: 'insufficient_quota', message: 'top up', type: 'insufficient_quota' } }, 'unavailable'],
  ] as const)('create answered HTTP %i %o → %s', async (status, body, kind) => {
    const { adapter, emu } = ctx();
    emu.state.submitFaults.push({ kind: 'status', status, body });
    const err = await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'x' }), kind);
    expect(err.code).toBe(body.error.code);
  });

  it('a well-formed id nobody created is not_found too', async () => {
    const { adapter, ref } = ctx();
    await expectProviderError(adapter.status(ref('task-unified-1700000000-zzzzzzzz')), 'not_found');
  });

  describe('emulator as a protocol peer', () => {
    const auth = { authorization: 'Bearer sk-evolink-test', 'content-type': 'application/json' };
    const motion = {
      model: 'kling-v3-motion-control', image_urls: ['https://m/i.png'], video_urls: ['https://m/v.mp4'], quality: '720p',
      model_params: { character_orientation: 'image', keep_original_sound: true },
    };
    const post = (url: string, body: unknown, headers: Record<string, string> = auth) =>
      fetch(`${url}/v1/videos/generations`, { method: 'POST', headers, body: JSON.stringify(body) });

    it.each([
      ['two images', { ...motion, image_urls: ['https://m/a.png', 'https://m/b.png'] }, 'image_urls'],
      ['no video', { ...motion, video_urls: [] }, 'video_urls'],
      ['a 4k quality', { ...motion, quality: '4k' }, 'quality'],
      ['a 21-character element name', {
        model: 'kling-custom-element',
        model_params: { element_name: 'x'.repeat(21), element_description: 'd', reference_type: 'video_refer', element_video_list: { video_url: 'https://m/f.mp4' } },
      }, 'model_params.element_name'],
    ])('rejects %s with 400 invalid_parameters', async (_label, body, param) => {
      const { emu } = ctx();
      const res = await post(emu.url, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_parameters', type: 'invalid_request_error', param } });
      expect(emu.state.tasksCreated).toBe(0);
    });

    it('answers 401 in its error shape to a wrong key or scheme', async () => {
      const { emu } = ctx();
      for (const authorization of ['Bearer nope', 'Key sk-evolink-test', '']) {
        const res = await post(emu.url, motion, { ...auth, authorization });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: expect.any(String) } });
      }
    });

    it('creates a pending task with task_info and usage', async () => {
      const { emu } = ctx();
      const res = await post(emu.url, motion);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        id: expect.stringMatching(/^task-unified-/), status: 'pending',
        task_info: { can_cancel: expect.any(Boolean), estimated_time: expect.any(Number) },
        usage: { billing_rule: 'per_second', credits_reserved: expect.any(Number) },
      });
    });
  });
});

describe('evolink readings (scripted upstream and webhooks)', () => {
  async function scripted(task: unknown) {
    const app = new Hono();
    app.get('*', (c) => c.json(task as object));
    return listen(app);
  }

  it.each([
    [{ id: 't', status: 'failed', error: { code: 'brand_new_code', message: 'x' } }, { state: 'failed', error: { code: 'brand_new_code', message: 'x', providerSide: true } }],
    [{ id: 't', status: 'failed', error: { code: 'image_too_blurry', message: 'x' } }, { state: 'failed', error: { code: 'image_too_blurry', message: 'x', providerSide: false } }],
    [{ id: 't', status: 'failed' }, { state: 'failed', error: { code: 'unknown_error', message: 'evolink task failed', providerSide: true } }],
    [{ id: 't', status: 'failed', error: { code: 'request_cancelled', message: 'cancelled' } }, { state: 'cancelled' }],
  ])('poll %o → %o', async (task, expected) => {
    const server = await scripted(task);
    try {
      const adapter = evolinkFactory.create({ baseUrl: server.url, apiKey: 'k' });
      expect(await adapter.status({ upstreamId: 't', model: 'kling-v3-motion-control', quality: '720p' })).toEqual(expected);
    } finally {
      await server.close();
    }
  });

  it('a completed element without result_data.element_id is a bad_response', async () => {
    const server = await scripted({ id: 't', status: 'completed', results: ['https://e/x.mp4'] });
    try {
      const adapter = evolinkFactory.create({ baseUrl: server.url, apiKey: 'k' });
      await expectProviderError(adapter.status(elementRef('t')), 'bad_response');
    } finally {
      await server.close();
    }
  });

  it('parses callbacks as the task object the poll returns', () => {
    const adapter = evolinkFactory.create({ apiKey: 'k' });
    const h = new Headers();
    expect(adapter.parseWebhook!({ id: 't1', status: 'completed', progress: 100, results: ['https://e/o.mp4'] }, h)).toEqual({
      upstreamId: 't1',
      status: { state: 'completed', progress: 100, outputs: ['https://e/o.mp4'] },
    });
    expect(adapter.parseWebhook!({ id: 't2', status: 'completed', result_data: { element_id: '860023' } }, h)?.status).toEqual({
      state: 'completed', progress: 100, elementId: '860023',
    });
    const failed = adapter.parseWebhook!({ id: 't3', status: 'failed', error: { code: 'content_policy_violation', message: 'no' } }, h);
    expect(failed?.status.error).toEqual({ code: 'content_policy_violation', message: 'no', providerSide: false });
    expect(adapter.parseWebhook!({ id: 't4', status: 'completed' }, h)).toBeNull();
    expect(adapter.parseWebhook!({ id: 't5', status: 'succeeded' }, h)).toBeNull();
  });
});
