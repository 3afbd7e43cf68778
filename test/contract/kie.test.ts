import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { kieFactory, parseResultUrls } from '../../providers/kie/adapter.ts';
import { startKieEmulator } from '../../providers/kie/emulator.ts';
import { listen } from '../../providers/emulator-kit.ts';
import { QUALITIES } from '../../providers/types.ts';
import { QUEUE_MS, RUN_MS, expectProviderError, motionRequest, runContractSuite, useContract, type ContractTarget } from './harness.ts';

const target: ContractTarget = {
  name: 'kie',
  factory: kieFactory,
  start: startKieEmulator,
  credentials: { apiKey: 'kie-test-key' },
  assertAuth: (headers) => expect(headers.authorization).toBe('Bearer kie-test-key'),
  supports: { cancel: false, elements: false, lookup: false },
};

runContractSuite(target);

describe('kie specifics', () => {
  const ctx = useContract(target);

  it.each(QUALITIES)('sends %s as input.mode verbatim, with kie input names', async (quality) => {
    const { adapter, emu } = ctx();
    const hook = 'https://gw.example.com/hooks/kie';
    await adapter.create({ request: motionRequest(quality, { orientation: 'video' }), attemptId: 'a', webhookUrl: hook });
    expect(emu.state.lastCreateBody).toEqual({
      model: 'kling-3.0/motion-control',
      input: {
        input_urls: ['https://media.example.com/character.png'],
        video_urls: ['https://media.example.com/dance.mp4'],
        character_orientation: 'video',
        mode: quality,
        prompt: 'dance in the rain',
      },
      callBackUrl: hook,
    });
  });

  it('walks waiting → queuing → generating → success', async () => {
    const { adapter, emu, advance } = ctx();
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'a' });
    const states: string[] = [];
    for (const step of [0, QUEUE_MS / 2, QUEUE_MS / 2, RUN_MS - QUEUE_MS]) {
      advance(step);
      const res = await fetch(`${emu.url}/api/v1/jobs/recordInfo?taskId=${upstreamId}`, { headers: { authorization: 'Bearer kie-test-key' } });
      states.push(((await res.json()) as { data: { state: string } }).data.state);
    }
    expect(states).toEqual(['waiting', 'queuing', 'generating', 'success']);
  });

  it.each([
    [402, 'unavailable'],
    [429, 'rate_limited'],
    [401, 'auth'],
    [422, 'invalid_request'],
    [455, 'unavailable'],
    [500, 'unavailable'],
  ] as const)('HTTP 200 with body code %i → %s', async (code, kind) => {
    const { adapter, emu } = ctx();
    emu.state.submitFaults.push({ kind: 'status', status: 200, body: { code, msg: 'injected', data: null } });
    const err = await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'a' }), kind);
    expect(err.code).toBe(String(code));
    expect(emu.state.tasksCreated).toBe(0);
  });

  it('reads the body code over the HTTP status when both are errors', async () => {
    const { adapter, emu } = ctx();
    emu.state.submitFaults.push({ kind: 'status', status: 500, body: { code: 402, msg: 'credits insufficient' } });
    await expectProviderError(adapter.create({ request: motionRequest('720p'), attemptId: 'a' }), 'unavailable');
  });

  describe('emulator as a protocol peer', () => {
    const auth = { authorization: 'Bearer kie-test-key', 'content-type': 'application/json' };
    const input = { input_urls: ['https://m/i.png'], video_urls: ['https://m/v.mp4'], character_orientation: 'image', mode: '720p' };
    const post = (url: string, body: unknown, headers: Record<string, string> = auth) =>
      fetch(`${url}/api/v1/jobs/createTask`, { method: 'POST', headers, body: JSON.stringify(body) });

    it.each(['std', 'pro'])('rejects mode %s with code 422 in an HTTP 200 body', async (mode) => {
      const { emu } = ctx();
      const res = await post(emu.url, { model: 'kling-3.0/motion-control', input: { ...input, mode } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ code: 422 });
      expect(emu.state.tasksCreated).toBe(0);
    });

    it('answers a wrong key and an unknown task with body codes 401 and 404', async () => {
      const { emu } = ctx();
      const bad = await post(emu.url, { model: 'kling-3.0/motion-control', input }, { ...auth, authorization: 'Bearer nope' });
      expect(await bad.json()).toMatchObject({ code: 401 });
      const unknown = await fetch(`${emu.url}/api/v1/jobs/recordInfo?taskId=nope`, { headers: auth });
      expect(await unknown.json()).toMatchObject({ code: 404, data: null });
    });

    it('carries resultJson as a JSON string holding resultUrls', async () => {
      const { emu, advance } = ctx();
      const { data } = (await (await post(emu.url, { model: 'kling-3.0/motion-control', input })).json()) as { data: { taskId: string } };
      advance(RUN_MS);
      const rec = (await (await fetch(`${emu.url}/api/v1/jobs/recordInfo?taskId=${data.taskId}`, { headers: auth })).json()) as {
        data: { resultJson: unknown };
      };
      expect(typeof rec.data.resultJson).toBe('string');
      expect(JSON.parse(rec.data.resultJson as string)).toEqual({ resultUrls: [`${emu.url}/__files/${data.taskId}.mp4`] });
    });
  });
});

describe('kie readings (scripted upstream)', () => {
  /** A kie look-alike whose recordInfo answers `data` inside a code-200 envelope. */
  async function scripted(data: unknown) {
    const app = new Hono();
    app.get('*', (c) => c.json({ code: 200, msg: 'success', data }));
    return listen(app);
  }
  const ref = { upstreamId: 't1', model: 'kling-v3-motion-control', quality: '720p' } as const;

  it.each([
    ['not JSON', '{"resultUrls": ['],
    ['JSON without resultUrls', '{"urls": ["https://v/o.mp4"]}'],
    ['an empty list', '{"resultUrls": []}'],
    ['nothing', null],
  ])('turns a success whose resultJson is %s into bad_response', async (_label, resultJson) => {
    const server = await scripted({ taskId: 't1', state: 'success', resultJson });
    try {
      await expectProviderError(kieFactory.create({ baseUrl: server.url, apiKey: 'k' }).status(ref), 'bad_response');
    } finally {
      await server.close();
    }
  });

  it.each([
    ['422', false],
    [451, false],
    ['500', true],
    ['501', true],
    [null, true],
  ])('failCode %s → providerSide %s', async (failCode, providerSide) => {
    const server = await scripted({ taskId: 't1', state: 'fail', failCode, failMsg: 'x' });
    try {
      const s = await kieFactory.create({ baseUrl: server.url, apiKey: 'k' }).status(ref);
      expect(s).toMatchObject({ state: 'failed', error: { providerSide } });
    } finally {
      await server.close();
    }
  });

  it('reads recordInfo code 422 as an unknown task', async () => {
    const app = new Hono();
    app.get('*', (c) => c.json({ code: 422, msg: 'recordInfo is null', data: null }));
    const server = await listen(app);
    try {
      await expectProviderError(kieFactory.create({ baseUrl: server.url, apiKey: 'k' }).status(ref), 'not_found');
    } finally {
      await server.close();
    }
  });

  it('parses resultJson defensively', () => {
    expect(parseResultUrls('{"resultUrls":["https://v/o.mp4"]}')).toEqual(['https://v/o.mp4']);
    expect(parseResultUrls({ resultUrls: ['https://v/o.mp4'] })).toEqual(['https://v/o.mp4']);
    for (const bad of ['', 'null', '[1', '{"resultUrls":[1]}', 42, undefined]) expect(parseResultUrls(bad)).toBeNull();
  });

  it('parses callbacks shaped like recordInfo (unverified shape)', () => {
    const adapter = kieFactory.create({ apiKey: 'k' });
    const h = new Headers();
    const ok = { code: 200, msg: 'ok', data: { taskId: 't', state: 'success', resultJson: '{"resultUrls":["https://v/o.mp4"]}' } };
    expect(adapter.parseWebhook!(ok, h)).toEqual({ upstreamId: 't', status: { state: 'completed', progress: 100, outputs: ['https://v/o.mp4'] } });
    const failed = { code: 501, msg: 'failed', data: { taskId: 't', state: 'fail', failCode: '400', failMsg: 'flagged' } };
    expect(adapter.parseWebhook!(failed, h)?.status.error).toEqual({ code: '400', message: 'flagged', providerSide: false });
    const broken = { code: 200, msg: 'ok', data: { taskId: 't', state: 'success', resultJson: '{oops' } };
    expect(adapter.parseWebhook!(broken, h)).toBeNull();
  });
});
