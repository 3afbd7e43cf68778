/**
 * Sibling of issue 8 #5 and #10: a provider's own error text (which can name the operator's account
 * or prices) never reaches an API client — not the create answer, the task, the list or the callback.
 * Clients read a fixed text per kind of failure; the admin task view and the log keep the raw words.
 * Input rejections keep the upstream's message: it is about the client's input.
 */
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { ADMIN_KEY, startGateway, type Gateway } from '../helpers/gateway.ts';

const SECRET = 'insufficient credits, balance $12.34 on account acme-ops';
const LEAKS = /12\.34|acme-ops|credits/;
const PRICE = { '720p': 0.1, '1080p': 0.2 };

let gw: Gateway;
let receiver: RunningServer | undefined;
afterEach(async () => {
  await gw?.close();
  await receiver?.close();
  receiver = undefined;
});

async function startReceiver(): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const app = new Hono();
  app.post('/hook', async (c) => {
    bodies.push(await c.req.text());
    return c.text('ok');
  });
  receiver = await listen(app);
  return { url: `${receiver.url}/hook`, bodies };
}

describe('upstream error text toward clients', () => {
  it('a create that fails everywhere with an account message: 503, task, list and admin', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-a', type: 'fal', price: PRICE }, { id: 'fal-b', type: 'fal', price: { '720p': 0.2, '1080p': 0.4 } }] });
    for (const id of ['fal-a', 'fal-b']) gw.emulators[id]!.state.submitFaults.push({ kind: 'status', status: 503, body: { detail: SECRET } });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('no_provider_available');
    expect(res.body.error.message).toContain('fal-a: the provider is unavailable');
    expect(JSON.stringify(res.body)).not.toMatch(LEAKS);

    const list = await gw.call('GET', '/v1/tasks');
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toMatch(LEAKS);
    const id = list.body.data[0].id as string;
    const task = await gw.call('GET', `/v1/tasks/${id}`);
    expect(task.body).toMatchObject({ status: 'failed', error: { code: 'no_provider_available' } });
    expect(task.body.attempts).toHaveLength(2);
    expect(JSON.stringify(task.body)).not.toMatch(LEAKS);

    // The operator still reads the provider's own words.
    const admin = await gw.call('GET', `/admin/tasks/${id}`, { key: ADMIN_KEY });
    expect(admin.status).toBe(200);
    expect(admin.body.attempts.map((a: { upstream_message: string }) => a.upstream_message)).toEqual([expect.stringContaining(SECRET), expect.stringContaining(SECRET)]);
  });

  it('a task that fails provider-side while running: the task, the callback and the attempt carry a fixed text', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-a', type: 'fal', price: PRICE }] });
    const rx = await startReceiver();
    gw.emulators['fal-a']!.state.fates.push({ outcome: 'fail', message: SECRET, providerSide: true });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { callback_url: rx.url }) });
    expect(res.status).toBe(200);
    const done = await gw.settle(res.body.id);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'upstream_failed' }, attempts: [{ provider: 'fal-a', status: 'failed' }] });
    expect(done.attempts[0].error.message).toBe('the provider failed');
    expect(JSON.stringify(done)).not.toMatch(LEAKS);
    await gw.runtime.callbacks.runDue();
    expect(rx.bodies).toHaveLength(1);
    expect(JSON.parse(rx.bodies[0]!)).toMatchObject({ id: res.body.id, status: 'failed' });
    expect(rx.bodies[0]).not.toMatch(LEAKS);
    const admin = await gw.call('GET', `/admin/tasks/${res.body.id}`, { key: ADMIN_KEY });
    expect(admin.body.attempts[0].upstream_message).toContain(SECRET);
  });

  it('an input rejection keeps the upstream message: it tells the user what to fix', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-a', type: 'fal', price: PRICE }] });
    gw.emulators['fal-a']!.state.fates.push({ outcome: 'fail', code: 'invalid_image', message: 'no person in the image', providerSide: false });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const done = await gw.settle(res.body.id);
    expect(done.error).toMatchObject({ code: 'upstream_rejected', message: expect.stringContaining('no person in the image') });
    expect(done.attempts[0].error.message).toBe('no person in the image');
  });
});
