import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { falFactory, FAL_MODEL_IDS } from '../../providers/fal/adapter.ts';
import { startFalEmulator } from '../../providers/fal/emulator.ts';
import { listen } from '../../providers/emulator-kit.ts';
import { QUALITIES } from '../../providers/types.ts';
import { RUN_MS, expectProviderError, motionRequest, runContractSuite, useContract, type ContractTarget } from './harness.ts';

const target: ContractTarget = {
  name: 'fal',
  factory: falFactory,
  start: startFalEmulator,
  credentials: { apiKey: 'fal-test-key' },
  assertAuth: (headers) => expect(headers.authorization).toBe('Key fal-test-key'),
  supports: { cancel: true, elements: false, lookup: false },
};

runContractSuite(target);

describe('fal specifics', () => {
  const ctx = useContract(target);

  it.each(QUALITIES)('submits %s to its model id with fal input names', async (quality) => {
    const { adapter, emu } = ctx();
    await adapter.create({ request: motionRequest(quality, { orientation: 'video', keepOriginalSound: false }), attemptId: 'a' });
    const task = [...emu.state.tasks.values()][0]!;
    expect(task.meta.modelId).toBe(FAL_MODEL_IDS[quality]);
    expect(FAL_MODEL_IDS[quality]).toContain(quality === '720p' ? '/standard/' : '/pro/');
    expect(emu.state.lastCreateBody).toEqual({
      image_url: 'https://media.example.com/character.png',
      video_url: 'https://media.example.com/dance.mp4',
      character_orientation: 'video',
      keep_original_sound: false,
      prompt: 'dance in the rain',
    });
  });

  it('passes the webhook URL as ?fal_webhook=', async () => {
    const { adapter, emu } = ctx();
    const hook = 'https://gw.example.com/hooks/fal?x=1&y=2';
    await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: hook });
    expect([...emu.state.tasks.values()][0]!.meta.webhookUrl).toBe(hook);
  });

  it('refuses to cancel a finished request', async () => {
    const { adapter, advance, ref } = ctx();
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
    advance(RUN_MS);
    await expectProviderError(adapter.cancel!(ref(upstreamId)), 'invalid_request');
  });

  describe('emulator as a protocol peer', () => {
    const model = FAL_MODEL_IDS['720p'];
    const post = (url: string, body: unknown, auth = 'Key fal-test-key') =>
      fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const input = { image_url: 'https://m/i.png', video_url: 'https://m/v.mp4', character_orientation: 'image' };

    it('requires character_orientation (422, FastAPI-style detail)', async () => {
      const { emu } = ctx();
      const res = await post(`${emu.url}/${model}`, { image_url: 'https://m/i.png', video_url: 'https://m/v.mp4' });
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ detail: [{ loc: ['body', 'character_orientation'], type: 'missing' }] });
    });

    it('answers 401 to a Bearer token and 404 to an unknown model', async () => {
      const { emu } = ctx();
      expect((await post(`${emu.url}/${model}`, input, 'Bearer fal-test-key')).status).toBe(401);
      expect((await post(`${emu.url}/fal-ai/kling-video/v9/motion-control`, input)).status).toBe(404);
    });

    it('returns owner/alias request URLs from submit and serves only those paths', async () => {
      const { emu } = ctx();
      const answer = (await (await post(`${emu.url}/${model}`, input)).json()) as Record<string, string>;
      const id = answer.request_id!;
      const app = `${emu.url}/fal-ai/kling-video/requests/${id}`;
      expect(answer).toMatchObject({ status_url: `${app}/status`, response_url: app, cancel_url: `${app}/cancel` });
      const headers = { authorization: 'Key fal-test-key' };
      const status = await fetch(answer.status_url!, { headers });
      expect(status.status).toBe(202);
      expect(await status.json()).toMatchObject({ status: 'IN_QUEUE' });
      // The full model id is not where fal serves requests.
      expect((await fetch(`${emu.url}/${model}/requests/${id}/status`, { headers })).status).toBe(404);
      expect((await fetch(`${emu.url}/${model}/requests/${id}/cancel`, { method: 'PUT', headers })).status).toBe(404);
      expect((await fetch(`${emu.url}/fal-ai/other-app/requests/${id}/status`, { headers })).status).toBe(404);
    });
  });

  describe('request URLs kept with the attempt', () => {
    it('create returns the submit URLs as the handle, and status/cancel use them', async () => {
      const { adapter, emu, advance } = ctx();
      const created = await adapter.create({ request: motionRequest('1080p'), attemptId: 'a' });
      const urls = JSON.parse(created.handle!) as Record<string, string>;
      expect(urls.status_url).toBe(`${emu.url}/fal-ai/kling-video/requests/${created.upstreamId}/status`);
      // An id that is not the request's: only the stored URLs can find it.
      const ref = { upstreamId: 'elsewhere', model: 'kling-v3-motion-control' as const, quality: '1080p' as const, handle: created.handle! };
      expect((await adapter.status(ref)).state).toBe('pending');
      advance(RUN_MS);
      expect((await adapter.status(ref)).state).toBe('completed');
      const other = await adapter.create({ request: motionRequest('720p'), attemptId: 'b' });
      await adapter.cancel!({ ...ref, upstreamId: 'elsewhere', handle: other.handle! });
      expect(emu.state.cancels).toBe(1);
    });

    it('without a stored handle, or with URLs on another origin, builds them on owner/alias', async () => {
      const { adapter, advance } = ctx();
      const created = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
      const foreign = JSON.stringify({ status_url: 'https://evil.example/s', response_url: 'https://evil.example/r', cancel_url: 'https://evil.example/c' });
      const ref = { upstreamId: created.upstreamId, model: 'kling-v3-motion-control' as const, quality: '720p' as const };
      advance(RUN_MS);
      expect((await adapter.status(ref)).state).toBe('completed');
      expect((await adapter.status({ ...ref, handle: foreign })).state).toBe('completed');
    });
  });
});

describe('fal failure readings (scripted upstream)', () => {
  /** A fal look-alike whose status says COMPLETED without an error and whose result fails. */
  async function scripted(result: { status: number; body: unknown }) {
    const app = new Hono();
    app.get('*', (c) =>
      c.req.path.endsWith('/status') ? c.json({ status: 'COMPLETED' }) : c.json(result.body as object, result.status as 422),
    );
    return listen(app);
  }

  it.each([
    [422, { detail: [{ loc: ['body', 'image_url'], msg: 'no face', type: 'face_detection_error' }] }, 'face_detection_error', false],
    [422, { detail: [{ loc: ['body'], msg: 'odd', type: 'some_new_validation' }] }, 'some_new_validation', false],
    [504, { detail: 'Request timed out', error_type: 'request_timeout' }, 'request_timeout', true],
    [500, { detail: 'boom', error_type: 'content_policy_violation' }, 'content_policy_violation', false],
  ])('result HTTP %i → failed', async (status, body, code, providerSide) => {
    const server = await scripted({ status, body });
    try {
      const adapter = falFactory.create({ baseUrl: server.url, apiKey: 'k' });
      const s = await adapter.status({ upstreamId: 'r1', model: 'kling-v3-motion-control', quality: '720p' });
      expect(s).toMatchObject({ state: 'failed', error: { code, providerSide } });
    } finally {
      await server.close();
    }
  });

  it('a bare 503 from the result URL is fal being down, not a failed task', async () => {
    const server = await scripted({ status: 503, body: {} });
    try {
      const adapter = falFactory.create({ baseUrl: server.url, apiKey: 'k' });
      await expectProviderError(adapter.status({ upstreamId: 'r1', model: 'kling-v3-motion-control', quality: '720p' }), 'unavailable');
    } finally {
      await server.close();
    }
  });

  it('parses webhooks by status and structured error types', () => {
    const adapter = falFactory.create({ apiKey: 'k' });
    const h = new Headers();
    expect(adapter.parseWebhook!({ request_id: 'r', status: 'OK', payload: { video: { url: 'https://v/o.mp4' } } }, h)).toEqual({
      upstreamId: 'r',
      status: { state: 'completed', progress: 100, outputs: ['https://v/o.mp4'] },
    });
    const moderated = { request_id: 'r', status: 'ERROR', error: 'Invalid status code: 422', payload: { detail: [{ type: 'content_policy_violation' }] } };
    expect(adapter.parseWebhook!(moderated, h)?.status.error).toMatchObject({ code: 'content_policy_violation', providerSide: false });
    const crashed = { request_id: 'r', status: 'ERROR', error: 'Invalid status code: 503', payload: { detail: 'x', error_type: 'runner_disconnected' } };
    expect(adapter.parseWebhook!(crashed, h)?.status.error).toMatchObject({ code: 'runner_disconnected', providerSide: true });
  });
});
