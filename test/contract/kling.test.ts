import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { SignJWT, jwtVerify } from 'jose';
import { klingFactory } from '../../providers/kling/adapter.ts';
import { startKlingEmulator } from '../../providers/kling/emulator.ts';
import { listen } from '../../providers/emulator-kit.ts';
import { QUALITIES } from '../../providers/types.ts';
import { RUN_MS, T0, elementRequest, expectProviderError, motionRequest, runContractSuite, useContract, type ContractTarget } from './harness.ts';

const credentials = { apiKey: 'kling-api-key', accessKey: 'kling-access-key', secretKey: 'kling-secret-key-0123456789' };
const target: ContractTarget = {
  name: 'kling',
  factory: klingFactory,
  start: startKlingEmulator,
  credentials,
  assertAuth: (headers) => expect(headers.authorization).toBe('Bearer kling-api-key'),
  supports: { cancel: false, elements: true, lookup: true },
};
const elementRef = (upstreamId: string) => ({ upstreamId, model: 'kling-custom-element' as const, quality: '720p' as const });

runContractSuite(target);

describe('kling specifics', () => {
  const ctx = useContract(target);

  it.each(QUALITIES)('sends %s motion control in the new format with external_task_id', async (quality) => {
    const { adapter, emu } = ctx();
    const hook = 'https://gw.example.com/hooks/kling';
    await adapter.create({ request: motionRequest(quality, { orientation: 'video', keepOriginalSound: false }), attemptId: 'att_body', webhookUrl: hook });
    expect(emu.state.lastCreateBody).toEqual({
      contents: [
        { type: 'prompt', text: 'dance in the rain' },
        { type: 'image', url: 'https://media.example.com/character.png' },
        { type: 'video', url: 'https://media.example.com/dance.mp4' },
      ],
      settings: { character_orientation: 'video', audio: 'off', resolution: quality },
      options: { callback_url: hook, external_task_id: 'att_body' },
    });
    expect([...emu.state.tasks.values()][0]!.meta).toMatchObject({ externalTaskId: 'att_body', callbackUrl: hook, model: 'kling-3.0' });
  });

  it('sets external_task_id on every create, and finds a lost create by it', async () => {
    const { adapter, emu, advance } = ctx();
    await adapter.create({ request: motionRequest('720p'), attemptId: 'att_first' });
    emu.state.submitFaults.push({ kind: 'accept_then_reset' });
    await expectProviderError(adapter.create({ request: motionRequest('1080p'), attemptId: 'att_lost' }), 'unknown_outcome');
    const ids = [...emu.state.tasks.values()].map((t) => t.meta.externalTaskId);
    expect(ids).toEqual(['att_first', 'att_lost']);
    const lost = [...emu.state.tasks.values()][1]!;
    expect(await adapter.findByAttemptId!('att_lost', 'kling-v3-motion-control', '1080p')).toEqual({ upstreamId: lost.id, state: 'pending' });
    advance(RUN_MS);
    const later = await adapter.findByAttemptId!('att_lost', 'kling-v3-motion-control', '1080p');
    expect(later).toMatchObject({ upstreamId: lost.id, state: 'completed', outputDurationS: 5 });
    expect(await adapter.findByAttemptId!('att_unknown', 'kling-v3-motion-control', '720p')).toBeNull();
    await expectProviderError(adapter.findByAttemptId!('att_el', 'kling-custom-element', '720p'), 'unknown_outcome');
  });

  it('reads outputs[].duration (a string) as outputDurationS', async () => {
    const { adapter, emu, advance, ref } = ctx();
    emu.state.fates.push({ outcome: 'complete', durationS: 7 });
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'att_d' });
    advance(RUN_MS);
    const raw = (await (await fetch(`${emu.url}/tasks?task_ids=${upstreamId}`, { headers: { authorization: 'Bearer kling-api-key' } })).json()) as {
      data: { outputs: { duration: unknown }[] }[];
    };
    expect(raw.data[0]!.outputs[0]!.duration).toBe('7');
    expect((await adapter.status(ref(upstreamId))).outputDurationS).toBe(7);
  });

  describe('HTTP 200 with a non-zero code', () => {
    it.each([
      [undefined, 'rate_limited'],
      [{ code: 1301, message: 'content policy' }, 'invalid_request'],
      [{ code: 1201, message: 'bad params' }, 'invalid_request'],
      [{ code: 1102, message: 'pack used up' }, 'unavailable'],
      [{ code: 1002, message: 'invalid auth' }, 'auth'],
      [{ code: 5001, message: 'unavailable' }, 'unavailable'],
      [{ code: '1303', message: 'numeric string' }, 'rate_limited'],
    ] as const)('create body %j → %s', async (body, kind) => {
      const { adapter, emu } = ctx();
      emu.state.submitFaults.push({ kind: 'status', status: 200, ...(body ? { body } : {}) });
      const err = await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'att_200' }), kind);
      expect(err.status).toBe(200);
      expect(err.code).toBe(String(body?.code ?? 1303));
      expect(emu.state.tasksCreated).toBe(0);
    });

    it('the code wins over the HTTP status (429 with 1102 = account, not throttling)', async () => {
      const { adapter, emu } = ctx();
      emu.state.submitFaults.push({ kind: 'status', status: 429, body: { code: 1102, message: 'resource pack depleted', request_id: 'r' } });
      const err = await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'att_429' }), 'unavailable');
      expect(err.code).toBe('1102');
    });
  });

  describe('credentials', () => {
    it('refuses a JWT on the new format (401, code 1002)', async () => {
      const { emu } = ctx();
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer(credentials.accessKey)
        .setExpirationTime(Math.floor(T0 / 1000) + 1800).setNotBefore(Math.floor(T0 / 1000) - 5).sign(new TextEncoder().encode(credentials.secretKey));
      const res = await fetch(`${emu.url}/tasks?task_ids=x`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 1002 });
      const key = await fetch(`${emu.url}/v1/general/advanced-custom-elements/x`, { headers: { authorization: 'Bearer kling-api-key' } });
      expect(key.status).toBe(401);
      expect(await key.json()).toMatchObject({ code: 1002 });
    });

    it('signs a JWT (HS256, iss/exp/nbf from the injected clock) for element creation', async () => {
      const { adapter, emu } = ctx();
      await adapter.create({ request: elementRequest, attemptId: 'att_el', webhookUrl: 'https://gw.example.com/h' });
      const token = emu.state.lastHeaders.authorization!.replace(/^Bearer /, '');
      expect(token).not.toBe(credentials.apiKey);
      const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(credentials.secretKey), { currentDate: new Date(T0) });
      expect(protectedHeader.alg).toBe('HS256');
      const nowS = Math.floor(T0 / 1000);
      expect(payload).toEqual({ iss: credentials.accessKey, exp: nowS + 1800, nbf: nowS - 5 });
      expect(emu.state.lastCreateBody).toEqual({
        element_name: 'MyCharacter',
        element_description: 'A young male character with short hair',
        reference_type: 'video_refer',
        element_video_list: { refer_videos: [{ video_url: 'https://media.example.com/face.mp4' }] },
        callback_url: 'https://gw.example.com/h',
        external_task_id: 'att_el',
      });
    });

    it('a JWT from a skewed clock or a wrong secret is refused as auth', async () => {
      const { emu, adapterWith } = ctx();
      await expectProviderError(adapterWith({ now: () => T0 - 3_600_000 }).create({ request: elementRequest, attemptId: 'a1' }), 'auth');
      await expectProviderError(adapterWith({ now: () => T0 + 60_000 }).create({ request: elementRequest, attemptId: 'a2' }), 'auth');
      await expectProviderError(adapterWith({ secretKey: 'other-secret' }).create({ request: elementRequest, attemptId: 'a3' }), 'auth');
      await expectProviderError(adapterWith({ accessKey: undefined }).create({ request: elementRequest, attemptId: 'a4' }), 'auth');
      expect(emu.state.tasksCreated).toBe(0);
    });
  });

  describe('element ids', () => {
    it('round-trips a numeric element id: a number from the query, sent back as a string with a task-unique id', async () => {
      const { adapter, emu, advance } = ctx();
      const el = await adapter.create({ request: elementRequest, attemptId: 'att_el' });
      advance(RUN_MS);
      const done = await adapter.status(elementRef(el.upstreamId));
      expect(done.elementId).toBe(String(emu.state.tasks.get(el.upstreamId)!.meta.elementId));
      expect(done.elementId).toMatch(/^\d+$/);
      await adapter.create({ request: motionRequest('720p', { orientation: 'video', elementIds: [done.elementId!, '12345'] }), attemptId: 'att_m' });
      const contents = (emu.state.lastCreateBody as { contents: unknown[] }).contents;
      expect(contents.slice(3)).toEqual([
        { type: 'element', id: 'element_1', element_id: done.elementId },
        { type: 'element', id: 'element_2', element_id: '12345' },
      ]);
    });

    it('keeps ids a JSON number cannot carry exactly', async () => {
      const { adapter, emu } = ctx();
      await adapter.create({ request: motionRequest('720p', { orientation: 'video', elementIds: ['123456789012345678901', '007'] }), attemptId: 'a' });
      const contents = (emu.state.lastCreateBody as { contents: unknown[] }).contents;
      expect(contents.slice(3)).toEqual([
        { type: 'element', id: 'element_1', element_id: '123456789012345678901' },
        { type: 'element', id: 'element_2', element_id: '007' },
      ]);
    });

    it('the emulator refuses an element item with a numeric element_id, no id, or a repeated id (1201)', async () => {
      const { emu } = ctx();
      const base = [{ type: 'image', url: 'https://m/i.png' }, { type: 'video', url: 'https://m/v.mp4' }];
      const settings = { character_orientation: 'video', resolution: '720p' };
      const bad = [
        [{ type: 'element', id: 'e1', element_id: 12345 }],
        [{ type: 'element', element_id: '12345' }],
        [{ type: 'element', id: 'e1', element_id: '1' }, { type: 'element', id: 'e1', element_id: '2' }],
      ];
      for (const elements of bad) {
        const res = await fetch(`${emu.url}/motion-control/kling-3.0`, {
          method: 'POST',
          headers: { authorization: 'Bearer kling-api-key', 'content-type': 'application/json' },
          body: JSON.stringify({ contents: [...base, ...elements], settings }),
        });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ code: 1201 });
      }
      expect(emu.state.tasksCreated).toBe(0);
    });

    it('the emulator refuses elements with orientation image (1201, HTTP 400)', async () => {
      const { adapter } = ctx();
      const err = await expectProviderError(adapter.create({ request: motionRequest('720p', { elementIds: ['12345'] }), attemptId: 'a' }), 'invalid_request');
      expect(err).toMatchObject({ status: 400, code: '1201' });
    });
  });

  describe('emulator as a protocol peer', () => {
    const post = (url: string, body: unknown) =>
      fetch(url, { method: 'POST', headers: { authorization: 'Bearer kling-api-key', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const settings = { character_orientation: 'image', audio: 'original', resolution: '720p' };

    it('answers a missing image or video with code 1201 and HTTP 400', async () => {
      const { emu } = ctx();
      for (const contents of [[{ type: 'video', url: 'https://m/v.mp4' }], [{ type: 'image', url: 'https://m/i.png' }]]) {
        const res = await post(`${emu.url}/motion-control/kling-3.0`, { contents, settings });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ code: 1201, request_id: expect.any(String) });
      }
      expect(emu.state.tasksCreated).toBe(0);
    });

    it('refuses a second task with the same external_task_id', async () => {
      const { adapter } = ctx();
      await adapter.create({ request: motionRequest('720p'), attemptId: 'same' });
      await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'same' }), 'invalid_request');
    });

    it('an input-side failure carries code 1301, a provider-side one 5000', async () => {
      const { adapter, emu, advance, ref } = ctx();
      emu.state.fates.push({ outcome: 'fail', providerSide: false }, { outcome: 'fail', providerSide: true });
      const a = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
      const b = await adapter.create({ request: motionRequest('720p'), attemptId: 'b' });
      advance(RUN_MS);
      expect((await adapter.status(ref(a.upstreamId))).error).toMatchObject({ code: '1301', providerSide: false });
      expect((await adapter.status(ref(b.upstreamId))).error).toMatchObject({ code: '5000', providerSide: true });
    });

    it('reports an unknown element task as not_found', async () => {
      const { adapter } = ctx();
      await expectProviderError(adapter.status(elementRef('no-such-task')), 'not_found');
    });
  });
});

describe('kling readings (scripted upstream)', () => {
  async function scripted(answer: { status: number; text: string }) {
    const app = new Hono();
    app.all('*', (c) => c.body(answer.text, answer.status as 200, { 'content-type': 'application/json' }));
    return listen(app);
  }
  const opts = (url: string) => ({ baseUrl: url, ...credentials, now: () => T0 });

  it.each([
    [{ id: 't1', status: 'failed', message: 'no face', code: 1301 }, '1301', false],
    [{ id: 't1', status: 'failed', message: 'bad element', code: 1203 }, '1203', false],
    [{ id: 't1', status: 'failed', message: 'GPU crashed', code: 5002 }, '5002', true],
    [{ id: 't1', status: 'failed', message: 'content policy violation (text only)' }, 'kling_task_failed', true],
  ])('a failed task %j → code %s, providerSide %s', async (item, code, providerSide) => {
    const server = await scripted({ status: 200, text: JSON.stringify({ code: 0, message: 'ok', request_id: 'r', data: [item] }) });
    try {
      const s = await klingFactory.create(opts(server.url)).status({ upstreamId: 't1', model: 'kling-v3-motion-control', quality: '720p' });
      expect(s).toMatchObject({ state: 'failed', error: { code, providerSide } });
    } finally {
      await server.close();
    }
  });

  it('a query answered HTTP 200 with code 5001 is unavailable, 1203 not_found', async () => {
    for (const [code, kind] of [[5001, 'unavailable'], [1203, 'not_found']] as const) {
      const server = await scripted({ status: 200, text: JSON.stringify({ code, message: 'x', request_id: 'r' }) });
      try {
        await expectProviderError(klingFactory.create(opts(server.url)).status({ upstreamId: 't1', model: 'kling-v3-motion-control', quality: '720p' }), kind);
      } finally {
        await server.close();
      }
    }
  });

  it('reads a large numeric element_id without losing digits', async () => {
    const text = '{"code":0,"message":"ok","request_id":"r","data":{"task_id":"e1","task_status":"succeed","task_result":{"elements":[{"element_id":842250903629086785,"element_name":"A"}]}}}';
    const server = await scripted({ status: 200, text });
    try {
      const s = await klingFactory.create(opts(server.url)).status(elementRef('e1'));
      expect(s).toEqual({ state: 'completed', progress: 100, elementId: '842250903629086785' });
    } finally {
      await server.close();
    }
  });

  it('parses callbacks in both formats', () => {
    const adapter = klingFactory.create({ apiKey: 'k' });
    const h = new Headers();
    const done = { id: 't1', status: 'succeeded', message: '', outputs: [{ type: 'video', url: 'https://v/o.mp4', duration: '7' }], billing: [] };
    expect(adapter.parseWebhook!(done, h)).toEqual({ upstreamId: 't1', status: { state: 'completed', progress: 100, outputs: ['https://v/o.mp4'], outputDurationS: 7 } });
    expect(adapter.parseWebhook!({ id: 't1', status: 'processing' }, h)).toEqual({ upstreamId: 't1', status: { state: 'processing' } });
    expect(adapter.parseWebhook!({ id: 't1', status: 'failed', code: 1301, message: 'x' }, h)?.status.error).toMatchObject({ code: '1301', providerSide: false });
    const el = { task_id: 'e1', task_status: 'succeed', task_result: { elements: [{ element_id: 12345 }] } };
    expect(adapter.parseWebhook!(el, h)).toEqual({ upstreamId: 'e1', status: { state: 'completed', progress: 100, elementId: '12345' } });
    expect(adapter.parseWebhook!({ id: 't1', status: 'succeeded', outputs: [] }, h)).toBeNull();
  });
});
