/**
 * Webhooks that are not final (Replicate's `start`, PiAPI's create/staged/progress posts), sent by
 * the emulators over real HTTP to a running gateway: they only ever move a task forward, never end
 * it, never move it back, and never revive an attempt the gateway has already ended.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
let relay: RunningServer | undefined;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
  await relay?.close();
  relay = undefined;
});

/**
 * A gateway whose public URL is a relay started first (the gateway's own port is only known
 * after it starts, and public_base_url is read from the config at start).
 */
async function gatewayWith(type: 'replicate' | 'piapi') {
  let target = '';
  const app = new Hono();
  app.post('*', async (c) => {
    const headers = Object.fromEntries(['content-type', 'x-webhook-secret'].flatMap((h) => (c.req.header(h) !== undefined ? [[h, c.req.header(h)!]] : [])));
    const res = await fetch(target + c.req.path, { method: 'POST', headers, body: await c.req.arrayBuffer() });
    return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
  });
  const server = await listen(app);
  relay = server;
  gw = await startGateway({
    providers: [{ id: 'up', type, price: { '720p': 0.1, '1080p': 0.2 }, emulator: { webhookIntervalMs: 0 } }],
    config: { server: { public_base_url: server.url } },
  });
  target = gw.url;
  const emu = gw.emulators.up!;
  const created = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  // With a public URL, completed outputs are mirrored before the task completes: let that run.
  const view = async () => {
    await gw.runtime.ctx.mirror?.runDue();
    return (await gw.call('GET', `/v1/tasks/${created.body.id}`)).body;
  };
  const attempt = async () => (await gw.store.tasks.attempts(created.body.id)).at(-1)!;
  return { emu, taskId: created.body.id as string, view, attempt };
}

describe('non-final upstream webhooks', () => {
  it('replicate: start (always sent) leaves the task pending; a late start after processing changes nothing', async () => {
    const { emu, view, attempt } = await gatewayWith('replicate');
    expect(await emu.state.webhooks.flush()).toBe(1); // start, accepted by the gateway
    expect(await view()).toMatchObject({ status: 'pending' });
    expect((await attempt()).status).toBe('pending');
    gw.advance(4_000); // with webhooks registered, polls are rarer
    await gw.runtime.poller.runDue();
    expect((await view()).status).toBe('processing');
    // The provider retries its start delivery after the task started running.
    const start = (await fetch(`${emu.url}/v1/predictions/${(await attempt()).upstreamId}`, { headers: { authorization: 'Bearer up-key' } }).then((r) => r.json())) as Record<string, unknown>;
    const path = new URL(String(start.webhook)).pathname;
    const stale = { ...start, status: 'starting', output: null, started_at: undefined };
    expect((await gw.call('POST', path, { body: stale, key: null })).body).toMatchObject({ received: true });
    expect((await view()).status).toBe('processing');
    expect((await attempt()).status).toBe('processing');
    gw.advance(1_000);
    expect(await emu.state.webhooks.flush()).toBe(1); // completed
    const done = await view();
    expect(done).toMatchObject({ status: 'completed', usage: { charged_usd: 0.5 } });
  });

  it('piapi: create, staged and progress posts never end the task; the final one settles it', async () => {
    const { emu, view, attempt } = await gatewayWith('piapi');
    expect(await emu.state.webhooks.flush()).toBe(2); // created, staged
    expect((await view()).status).toBe('pending');
    gw.advance(1_000);
    expect(await emu.state.webhooks.flush()).toBe(1); // processing
    expect((await view()).status).toBe('processing');
    expect((await attempt()).status).toBe('processing');
    gw.advance(5_000);
    expect(await emu.state.webhooks.flush()).toBe(1);
    // The completion is the output mirror's now (it ends the task once the outputs are stored).
    await gw.runtime.files.mirror.runDue();
    expect(await view()).toMatchObject({ status: 'completed', usage: { charged_usd: 0.5 } });
    expect(emu.state.polls).toBe(0);
  });

  it('a non-final webhook for an attempt the gateway already ended does not revive it', async () => {
    const { emu, taskId, attempt } = await gatewayWith('piapi');
    // The state a crash between "attempt failed" and "next attempt written" leaves behind.
    await gw.store.tasks.updateAttempt((await attempt()).id, { status: 'failed', errorCode: 'upstream_lost', errorMessage: 'lost' });
    gw.advance(1_000);
    await emu.state.webhooks.flush(); // created, staged, processing
    expect((await attempt()).status).toBe('failed');
    expect((await gw.store.tasks.get(taskId))!.status).toBe('pending');
  });
});

describe('fal request URLs kept with the attempt', () => {
  it('the attempt stores the URLs submit returned, and polls and cancels go through them', async () => {
    gw = await startGateway({ providers: [{ id: 'fal', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } }] });
    const emu = gw.emulators.fal!;
    const first = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const second = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const [a, b] = await Promise.all([first, second].map(async (r) => (await gw.store.tasks.attempts(r.body.id)).at(-1)!));
    const urls = JSON.parse(a!.upstreamHandle!) as Record<string, string>;
    expect(urls.status_url).toBe(`${emu.url}/fal-ai/kling-video/requests/${a!.upstreamId}/status`);
    expect((await gw.call('POST', `/v1/tasks/${second.body.id}/cancel`)).status).toBe(200);
    expect(emu.state.cancels).toBe(1);
    expect(b!.upstreamHandle).toContain('/cancel');
    const done = await gw.settle(first.body.id);
    expect(done).toMatchObject({ status: 'completed', usage: { charged_usd: 0.5 } });
  });
});
