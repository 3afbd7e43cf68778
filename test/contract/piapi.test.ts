import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { piapiFactory } from '../../providers/piapi/adapter.ts';
import { startPiapiEmulator } from '../../providers/piapi/emulator.ts';
import { listen } from '../../providers/emulator-kit.ts';
import { QUALITIES } from '../../providers/types.ts';
import { RUN_MS, expectProviderError, motionRequest, runContractSuite, useContract, type ContractTarget } from './harness.ts';

const target: ContractTarget = {
  name: 'piapi',
  factory: piapiFactory,
  start: startPiapiEmulator,
  credentials: { apiKey: 'piapi-test-key' },
  assertAuth: (headers) => {
    expect(headers['x-api-key']).toBe('piapi-test-key');
    expect(headers.authorization).toBeUndefined();
  },
  supports: { cancel: false, elements: false, lookup: false },
};

runContractSuite(target);

describe('piapi specifics', () => {
  const ctx = useContract(target);

  it.each(QUALITIES)('sends %s as mode std|pro with motion_direction and no config without a webhook', async (quality) => {
    const { adapter, emu } = ctx();
    await adapter.create({ request: motionRequest(quality, { orientation: 'video', keepOriginalSound: false }), attemptId: 'a' });
    expect(emu.state.lastCreateBody).toEqual({
      model: 'kling',
      task_type: 'motion_control',
      input: {
        image_url: 'https://media.example.com/character.png',
        video_url: 'https://media.example.com/dance.mp4',
        motion_direction: 'video',
        keep_original_sound: false,
        mode: quality === '720p' ? 'std' : 'pro',
        version: '3.0',
        prompt: 'dance in the rain',
      },
    });
  });

  it('sends the webhook endpoint with the per-task secret', async () => {
    const { adapter, emu } = ctx();
    await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: 'https://gw.example.com/hooks/p', webhookSecret: 's3cret' });
    expect(emu.state.lastCreateBody).toMatchObject({ config: { webhook_config: { endpoint: 'https://gw.example.com/hooks/p', secret: 's3cret' } } });
  });

  it('reads a body error code over HTTP 200', async () => {
    const { adapter, emu } = ctx();
    emu.state.submitFaults.push({ kind: 'status', status: 200, body: { code: 429, data: null, message: 'too many requests' } });
    await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'a' }), 'rate_limited');
  });

  describe('emulator as a protocol peer', () => {
    const headers = { 'x-api-key': 'piapi-test-key', 'content-type': 'application/json' };
    const input = { image_url: 'https://m/i.png', video_url: 'https://m/v.mp4', motion_direction: 'image', mode: 'std' };
    const post = (url: string, body: unknown, h: Record<string, string> = headers) =>
      fetch(`${url}/api/v1/task`, { method: 'POST', headers: h, body: JSON.stringify(body) });

    it('requires motion_direction and refuses character_orientation in its place', async () => {
      const { emu } = ctx();
      const { motion_direction: _omit, ...rest } = input;
      const res = await post(emu.url, { model: 'kling', task_type: 'motion_control', input: { ...rest, character_orientation: 'image' } });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 400 });
      expect(emu.state.tasksCreated).toBe(0);
    });

    it.each(['720p', '1080p'])('rejects mode %s (PiAPI wants std|pro)', async (mode) => {
      const { emu } = ctx();
      expect((await post(emu.url, { model: 'kling', task_type: 'motion_control', input: { ...input, mode } })).status).toBe(400);
    });

    it('answers 401 to a Bearer token without x-api-key', async () => {
      const { emu } = ctx();
      const res = await post(emu.url, { model: 'kling', task_type: 'motion_control', input }, { authorization: 'Bearer piapi-test-key', 'content-type': 'application/json' });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 401 });
    });

    it('puts the video under output.works[0].video', async () => {
      const { emu, advance } = ctx();
      const { data } = (await (await post(emu.url, { model: 'kling', task_type: 'motion_control', input })).json()) as { data: { task_id: string } };
      advance(RUN_MS);
      const res = (await (await fetch(`${emu.url}/api/v1/task/${data.task_id}`, { headers })).json()) as { data: unknown };
      expect(res.data).toMatchObject({ status: 'completed', output: { works: [{ video: { resource: `${emu.url}/__files/${data.task_id}.mp4` } }] } });
    });
  });
});

describe('piapi readings (scripted upstream)', () => {
  async function scripted(data: unknown) {
    const app = new Hono();
    app.get('*', (c) => c.json({ code: 200, data, message: 'success' }));
    return listen(app);
  }
  const ref = { upstreamId: 't1', model: 'kling-v3-motion-control', quality: '720p' } as const;
  const statusWith = async (data: unknown) => {
    const server = await scripted(data);
    try {
      return await piapiFactory.create({ baseUrl: server.url, apiKey: 'k' }).status(ref);
    } finally {
      await server.close();
    }
  };

  it.each([
    ['works[0].video.resource', { works: [{ video: { resource: 'https://v/a.mp4' } }] }, 'https://v/a.mp4'],
    ['video_url', { video_url: 'https://v/b.mp4' }, 'https://v/b.mp4'],
    ['video', { video: 'https://v/c.mp4' }, 'https://v/c.mp4'],
  ])('finds the output in %s', async (_label, output, url) => {
    expect(await statusWith({ task_id: 't1', status: 'Completed', output })).toEqual({ state: 'completed', progress: 100, outputs: [url] });
  });

  it('turns a completed task without a video into bad_response', async () => {
    const server = await scripted({ task_id: 't1', status: 'completed', output: { works: null } });
    try {
      await expectProviderError(piapiFactory.create({ baseUrl: server.url, apiKey: 'k' }).status(ref), 'bad_response');
    } finally {
      await server.close();
    }
  });

  it.each([
    [400, false],
    [422, false],
    [429, true],
    [500, true],
    [10000, true],
    [0, true],
  ])('error.code %i → providerSide %s', async (code, providerSide) => {
    const s = await statusWith({ task_id: 't1', status: 'failed', error: { code, message: 'x', raw_message: 'y' } });
    expect(s).toMatchObject({ state: 'failed', error: { providerSide } });
  });

  it('parses webhooks {timestamp, data} without needing the secret header', () => {
    const adapter = piapiFactory.create({ apiKey: 'k' });
    const h = new Headers({ 'x-webhook-secret': 's3cret' });
    const done = { timestamp: 1763900000, data: { task_id: 't', status: 'completed', output: { works: [{ video: { resource: 'https://v/o.mp4' } }] } } };
    expect(adapter.parseWebhook!(done, h)).toEqual({ upstreamId: 't', status: { state: 'completed', progress: 100, outputs: ['https://v/o.mp4'] } });
    const failed = { timestamp: 1, data: { task_id: 't', status: 'failed', error: { code: 400, message: 'moderation', raw_message: '' } } };
    expect(adapter.parseWebhook!(failed, new Headers())?.status.error).toEqual({ code: '400', message: 'moderation', providerSide: false });
  });
});
