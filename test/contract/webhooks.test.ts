/**
 * Emulators deliver webhooks the way their providers do, not only at the end (PROVIDERS.md):
 * Replicate always sends `start`, PiAPI posts on create, while staged and on progress. Each
 * delivery goes through the adapter's parseWebhook: non-final ones read as pending/processing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { listen, type Emulator, type RunningServer } from '../../providers/emulator-kit.ts';
import { evolinkFactory } from '../../providers/evolink/adapter.ts';
import { startEvolinkEmulator } from '../../providers/evolink/emulator.ts';
import { falFactory } from '../../providers/fal/adapter.ts';
import { startFalEmulator } from '../../providers/fal/emulator.ts';
import { kieFactory } from '../../providers/kie/adapter.ts';
import { startKieEmulator } from '../../providers/kie/emulator.ts';
import { wavespeedFactory } from '../../providers/wavespeed/adapter.ts';
import { startWavespeedEmulator } from '../../providers/wavespeed/emulator.ts';
import { klingFactory } from '../../providers/kling/adapter.ts';
import { startKlingEmulator } from '../../providers/kling/emulator.ts';
import { piapiFactory } from '../../providers/piapi/adapter.ts';
import { startPiapiEmulator } from '../../providers/piapi/emulator.ts';
import { replicateFactory } from '../../providers/replicate/adapter.ts';
import { startReplicateEmulator } from '../../providers/replicate/emulator.ts';
import type { AdapterFactory, ProviderAdapter } from '../../providers/types.ts';
import { QUEUE_MS, RUN_MS, T0, elementRequest, motionRequest } from './harness.ts';

interface Delivery {
  headers: Headers;
  body: unknown;
}

/** A webhook receiver that records deliveries and answers `status` (default 200). */
async function receiver(): Promise<Pick<RunningServer, 'url' | 'close'> & { got: Delivery[]; status: number }> {
  const ctl = { got: [] as Delivery[], status: 200 };
  const app = new Hono();
  app.post('/hook', async (c) => {
    ctl.got.push({ headers: c.req.raw.headers, body: await c.req.json() });
    return c.json({ ok: ctl.status === 200 }, ctl.status as 200);
  });
  const server = await listen(app);
  return Object.assign(ctl, { url: server.url, close: server.close });
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function setUp(start: (o: object) => Promise<Emulator>, factory: AdapterFactory, credentials: Record<string, string> = { apiKey: 'key' }) {
  let now = T0;
  const clock = () => now;
  // Deliveries only on flush(): no real-time timer racing the assertions.
  const emu = await start({ now: clock, queueMs: QUEUE_MS, runMs: RUN_MS, credentials, webhookIntervalMs: 0 });
  const hook = await receiver();
  open.push(emu, hook);
  const adapter: ProviderAdapter = factory.create({ baseUrl: emu.url, ...credentials, now: clock, timeoutMs: 5_000 });
  return { emu, hook, adapter, advance: (ms: number) => void (now += ms) };
}

/** The states the adapter reads from the deliveries received so far. */
const states = (adapter: ProviderAdapter, got: Delivery[]) => got.map((d) => adapter.parseWebhook!(d.body, d.headers)?.status.state);

describe('replicate webhooks', () => {
  it('sends start whatever the filter says, then completed; each once', async () => {
    const { emu, hook, adapter, advance } = await setUp(startReplicateEmulator, replicateFactory);
    const { upstreamId } = await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: `${hook.url}/hook` });
    await emu.state.webhooks.flush();
    expect(hook.got.map((d) => (d.body as { status: string }).status)).toEqual(['starting']);
    expect(adapter.parseWebhook!(hook.got[0]!.body, hook.got[0]!.headers)).toEqual({ upstreamId, status: { state: 'pending' } });
    advance(QUEUE_MS);
    await emu.state.webhooks.flush();
    expect(hook.got).toHaveLength(1); // the adapter asked for `completed` only: no output/logs events
    advance(RUN_MS);
    await emu.state.webhooks.flush();
    await emu.state.webhooks.flush();
    expect(states(adapter, hook.got)).toEqual(['pending', 'completed']);
    expect((hook.got[1]!.body as { output: string }).output).toMatch(/\/__files\/.+\.mp4$/);
  });

  it('with every event asked for, a run that jumped to its end still reports start and processing as they were', async () => {
    const { emu, hook, advance } = await setUp(startReplicateEmulator, replicateFactory);
    const res = await fetch(`${emu.url}/v1/models/kwaivgi/kling-v3-motion-control/predictions`, {
      method: 'POST',
      headers: { authorization: 'Bearer key', 'content-type': 'application/json' },
      body: JSON.stringify({ input: { image: 'https://m/i.png', video: 'https://m/v.mp4', character_orientation: 'image' }, webhook: `${hook.url}/hook` }),
    });
    expect(res.status).toBe(201);
    advance(RUN_MS);
    await emu.state.webhooks.flush();
    expect(hook.got.map((d) => (d.body as { status: string }).status)).toEqual(['starting', 'processing', 'succeeded']);
  });
});

describe('emulator webhook targets', () => {
  it('never reaches beyond loopback, whatever URL a create registered', async () => {
    const { emu, adapter } = await setUp(startReplicateEmulator, replicateFactory);
    await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: 'https://gw.example.com/hook' });
    expect(await emu.state.webhooks.flush()).toBe(0);
    expect(emu.state.webhooks.failed).toBe(0);
  });
});

describe('piapi webhooks', () => {
  it('posts on create, staged and progress before the end, with the secret echoed', async () => {
    const { emu, hook, adapter, advance } = await setUp(startPiapiEmulator, piapiFactory);
    const { upstreamId } = await adapter.create({ request: motionRequest('1080p'), attemptId: 'a', webhookUrl: `${hook.url}/hook`, webhookSecret: 's3cret' });
    await emu.state.webhooks.flush();
    expect(hook.got.map((d) => (d.body as { data: { status: string } }).data.status)).toEqual(['pending', 'staged']);
    expect(hook.got.every((d) => d.headers.get('x-webhook-secret') === 's3cret')).toBe(true);
    advance(QUEUE_MS);
    await emu.state.webhooks.flush();
    advance(RUN_MS);
    await emu.state.webhooks.flush();
    expect(states(adapter, hook.got)).toEqual(['pending', 'pending', 'processing', 'completed']);
    expect(hook.got.every((d) => adapter.parseWebhook!(d.body, d.headers)?.upstreamId === upstreamId)).toBe(true);
  });

  it('retries a refused delivery before sending later events, and gives up after three tries', async () => {
    const { emu, hook, adapter, advance } = await setUp(startPiapiEmulator, piapiFactory);
    hook.status = 500;
    await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: `${hook.url}/hook`, webhookSecret: 's' });
    await emu.state.webhooks.flush();
    expect(hook.got).toHaveLength(1);
    hook.status = 200;
    await emu.state.webhooks.flush();
    expect(states(adapter, hook.got)).toEqual(['pending', 'pending', 'pending']); // created (retried), then staged
    hook.status = 503;
    advance(RUN_MS);
    for (let i = 0; i < 4; i++) await emu.state.webhooks.flush();
    const final = hook.got.slice(3).map((d) => (d.body as { data: { status: string } }).data.status);
    // processing tried 3 times then given up, then the final event (also refused, tried again).
    expect(final.slice(0, 3)).toEqual(['processing', 'processing', 'processing']);
    expect(final[3]).toBe('completed');
    expect(emu.state.webhooks.failed).toBeGreaterThanOrEqual(5);
  });
});

describe('kling callbacks', () => {
  const credentials = { apiKey: 'key', accessKey: 'ak', secretKey: 'sk-0123456789' };

  it('sends the task object on each status change, motion and element alike', async () => {
    const { emu, hook, adapter, advance } = await setUp(startKlingEmulator, klingFactory, credentials);
    const motion = await adapter.create({ request: motionRequest('720p'), attemptId: 'm', webhookUrl: `${hook.url}/hook` });
    const element = await adapter.create({ request: elementRequest, attemptId: 'e', webhookUrl: `${hook.url}/hook` });
    await emu.state.webhooks.flush();
    advance(QUEUE_MS);
    await emu.state.webhooks.flush();
    advance(RUN_MS);
    await emu.state.webhooks.flush();
    const events = hook.got.map((d) => adapter.parseWebhook!(d.body, d.headers));
    const of = (id: string) => events.filter((e) => e?.upstreamId === id).map((e) => e!.status.state);
    expect(of(motion.upstreamId)).toEqual(['pending', 'processing', 'completed']);
    expect(of(element.upstreamId)).toEqual(['pending', 'processing', 'completed']);
    expect(events.find((e) => e?.upstreamId === element.upstreamId && e.status.state === 'completed')?.status.elementId).toMatch(/^\d+$/);
  });
});

describe.each([
  ['fal', startFalEmulator, falFactory],
  ['evolink', startEvolinkEmulator, evolinkFactory],
  ['wavespeed', startWavespeedEmulator, wavespeedFactory],
  ['kie', startKieEmulator, kieFactory],
] as const)('%s webhooks (final only)', (_name, start, factory) => {
  it('posts once when the task ends, success or failure, and nothing before', async () => {
    const { emu, hook, adapter, advance } = await setUp(start, factory);
    emu.state.fates.push({ outcome: 'complete' }, { outcome: 'fail', providerSide: true });
    const ok = await adapter.create({ request: motionRequest('720p'), attemptId: 'a', webhookUrl: `${hook.url}/hook` });
    const bad = await adapter.create({ request: motionRequest('720p'), attemptId: 'b', webhookUrl: `${hook.url}/hook` });
    advance(QUEUE_MS);
    expect(await emu.state.webhooks.flush()).toBe(0);
    advance(RUN_MS);
    expect(await emu.state.webhooks.flush()).toBe(2);
    expect(await emu.state.webhooks.flush()).toBe(0);
    const events = hook.got.map((d) => adapter.parseWebhook!(d.body, d.headers));
    expect(events.find((e) => e?.upstreamId === ok.upstreamId)?.status).toMatchObject({ state: 'completed', outputs: [expect.stringMatching(/\.mp4$/)] });
    expect(events.find((e) => e?.upstreamId === bad.upstreamId)?.status).toMatchObject({ state: 'failed', error: { providerSide: true } });
  });
});
