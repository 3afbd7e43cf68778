import { describe, expect, it } from 'vitest';
import { replicateFactory } from '../../providers/replicate/adapter.ts';
import { startReplicateEmulator } from '../../providers/replicate/emulator.ts';
import { QUALITIES } from '../../providers/types.ts';
import { RUN_MS, expectProviderError, motionRequest, runContractSuite, useContract, type ContractTarget } from './harness.ts';

const target: ContractTarget = {
  name: 'replicate',
  factory: replicateFactory,
  start: startReplicateEmulator,
  credentials: { apiKey: 'r8_test_token' },
  assertAuth: (headers) => expect(headers.authorization).toBe('Bearer r8_test_token'),
  // Replicate's `error` is free text: no structured signal tells an input failure apart.
  supports: { cancel: true, elements: false, lookup: false, inputFailures: false },
};

runContractSuite(target);

describe('replicate specifics', () => {
  const ctx = useContract(target);
  const auth = { authorization: 'Bearer r8_test_token', 'content-type': 'application/json' };

  it.each(QUALITIES)('sends %s as mode std|pro with Replicate input names', async (quality) => {
    const { adapter, emu } = ctx();
    await adapter.create({ request: motionRequest(quality, { orientation: 'video', keepOriginalSound: false }), attemptId: 'a' });
    expect(emu.state.lastCreateBody).toEqual({
      input: {
        image: 'https://media.example.com/character.png',
        video: 'https://media.example.com/dance.mp4',
        mode: quality === '720p' ? 'std' : 'pro',
        character_orientation: 'video',
        keep_original_sound: false,
        prompt: 'dance in the rain',
      },
    });
  });

  it('asks for the completed webhook only', async () => {
    const { adapter, emu } = ctx();
    await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: 'https://gw.example.com/hooks/r' });
    expect(emu.state.lastCreateBody).toMatchObject({ webhook: 'https://gw.example.com/hooks/r', webhook_events_filter: ['completed'] });
  });

  it('never reports metrics.predict_time as the output duration', async () => {
    const { adapter, emu, advance, ref } = ctx();
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
    advance(RUN_MS);
    const raw = (await (await fetch(`${emu.url}/v1/predictions/${upstreamId}`, { headers: auth })).json()) as { metrics: { predict_time?: number } };
    expect(raw.metrics.predict_time).toBeGreaterThan(0);
    const s = await adapter.status(ref(upstreamId));
    expect(s.state).toBe('completed');
    expect(s.outputDurationS).toBeUndefined();
  });

  it('refuses to cancel a finished prediction', async () => {
    const { adapter, advance, ref } = ctx();
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
    advance(RUN_MS);
    await expectProviderError(adapter.cancel!(ref(upstreamId)), 'invalid_request');
    expect((await adapter.status(ref(upstreamId))).state).toBe('completed');
  });

  describe('emulator as a protocol peer', () => {
    const path = '/v1/models/kwaivgi/kling-v3-motion-control/predictions';
    const input = { image: 'https://m/i.png', video: 'https://m/v.mp4', mode: 'std' };

    it('validates input like Replicate (422 with invalid_fields)', async () => {
      const { emu } = ctx();
      const res = await fetch(emu.url + path, { method: 'POST', headers: auth, body: JSON.stringify({ input: { video: 'https://m/v.mp4', mode: '720p' } }) });
      expect(res.status).toBe(422);
      const body = (await res.json()) as { title: string; invalid_fields: Array<{ field: string }> };
      expect(body.title).toBe('Input validation failed');
      expect(body.invalid_fields.map((f) => f.field).sort()).toEqual(['input.image', 'input.mode']);
    });

    it('answers 401 to another auth scheme and 404 to another model', async () => {
      const { emu } = ctx();
      const body = JSON.stringify({ input });
      expect((await fetch(emu.url + path, { method: 'POST', headers: { ...auth, authorization: 'Token r8_test_token' }, body })).status).toBe(401);
      const other = '/v1/models/kwaivgi/kling-v9/predictions';
      expect((await fetch(emu.url + other, { method: 'POST', headers: auth, body })).status).toBe(404);
    });

    it('creates with 201 and a prediction in status starting', async () => {
      const { emu } = ctx();
      const res = await fetch(emu.url + path, { method: 'POST', headers: auth, body: JSON.stringify({ input }) });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ status: 'starting', output: null, error: null, urls: { get: expect.any(String) } });
    });
  });

  it('parses a webhook body as the prediction it is', () => {
    const adapter = replicateFactory.create({ apiKey: 'k' });
    const h = new Headers();
    expect(adapter.parseWebhook!({ id: 'p1', status: 'succeeded', output: 'https://r/o.mp4', metrics: { predict_time: 80 } }, h)).toEqual({
      upstreamId: 'p1',
      status: { state: 'completed', progress: 100, outputs: ['https://r/o.mp4'] },
    });
    const failed = adapter.parseWebhook!({ id: 'p1', status: 'failed', output: null, error: 'flagged as sensitive (E005)' }, h);
    expect(failed?.status).toMatchObject({ state: 'failed', error: { code: 'prediction_failed', providerSide: true } });
    expect(adapter.parseWebhook!({ id: 'p1', status: 'succeeded', output: null }, h)).toBeNull();
  });
});
