/** Signed callbacks with retries, Idempotency-Key, and money under concurrency. */
import { afterEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { Webhook } from 'standardwebhooks';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

const PRICE = { '720p': 0.1, '1080p': 0.2 };
let gw: Gateway;
let receiver: RunningServer | undefined;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
  await receiver?.close();
  receiver = undefined;
});

interface Received {
  headers: Record<string, string>;
  body: string;
}

/** A callback receiver that fails the first `failures` deliveries with 500. */
async function startReceiver(failures: number): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const app = new Hono();
  app.post('/hook', async (c) => {
    got.push({ headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text() });
    return got.length <= failures ? c.text('try later', 500) : c.text('ok');
  });
  receiver = await listen(app);
  return { url: `${receiver.url}/hook`, got };
}

describe('callbacks', () => {
  it('signs per Standard Webhooks, retries at 1/2/4 s with the same webhook-id, and shows attempts', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    const key = await gw.createKey({ name: 'hooks' });
    const rx = await startReceiver(2);
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { callback_url: rx.url }), key: key.key });
    await gw.settle(res.body.id, key.key);
    await gw.runtime.callbacks.runDue();
    expect(rx.got).toHaveLength(1);
    gw.advance(999);
    await gw.runtime.callbacks.runDue();
    expect(rx.got).toHaveLength(1); // not before 1 s
    gw.advance(1);
    await gw.runtime.callbacks.runDue();
    gw.advance(2_000);
    await gw.runtime.callbacks.runDue();
    expect(rx.got).toHaveLength(3);
    const ids = new Set(rx.got.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const last = rx.got[2]!;
    const verified = new Webhook(key.webhook_secret).verify(last.body, last.headers) as { id: string; status: string };
    expect(verified).toMatchObject({ id: res.body.id, status: 'completed' });
    expect(last.headers['webhook-signature']).toMatch(/^v1,/);
    expect(() => new Webhook(key.webhook_secret).verify(last.body.replace('completed', 'failed'), last.headers)).toThrow();
    const log = await gw.call('GET', `/v1/tasks/${res.body.id}/callbacks`, { key: key.key });
    expect(log.body.data[0]).toMatchObject({ status: 'delivered', attempts: 3, last_status_code: 200, event: 'task.completed' });
    // Re-send on request: same webhook-id.
    const retry = await gw.call('POST', `/v1/tasks/${res.body.id}/callbacks/retry`, { key: key.key });
    expect(retry.status).toBe(200);
    await gw.runtime.callbacks.runDue();
    expect(rx.got).toHaveLength(4);
    expect(rx.got[3]!.headers['webhook-id']).toBe(rx.got[0]!.headers['webhook-id']);
  });

  it('gives up after 3 retries and never follows redirects', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    const app = new Hono();
    let hits = 0;
    app.post('/hook', (c) => {
      hits++;
      return c.redirect('/elsewhere', 307);
    });
    app.post('/elsewhere', () => {
      throw new Error('redirect followed');
    });
    receiver = await listen(app);
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { callback_url: `${receiver.url}/hook` }) });
    await gw.call('POST', `/v1/tasks/${res.body.id}/cancel`);
    for (const wait of [0, 1_000, 2_000, 4_000, 8_000]) {
      gw.advance(wait);
      await gw.runtime.callbacks.runDue();
    }
    expect(hits).toBe(4);
    const log = await gw.call('GET', `/v1/tasks/${res.body.id}/callbacks`);
    expect(log.body.data[0]).toMatchObject({ status: 'failed', attempts: 4, last_status_code: 307, event: 'task.cancelled' });
  });

  it('refuses a private callback URL at submit when insecure URLs are not allowed', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }], config: { callbacks: { allow_insecure: false } } });
    const res = await gw.call('POST', '/v1/videos/generations', {
      body: { model: 'kling-v3-motion-control', image_urls: ['https://127.0.0.1/a.png'], video_urls: ['https://[::1]/b.mp4'], callback_url: 'https://169.254.169.254/latest' },
    });
    expect(res.status).toBe(400);
    expect(['invalid_media_url', 'invalid_callback_url']).toContain(res.body.error.code);
    const cb = await gw.call('POST', '/v1/videos/generations', {
      body: { ...gw.motion(5), callback_url: 'http://example.com/hook' },
    });
    expect(cb.body.error).toMatchObject({ code: 'invalid_media_url', param: 'image_urls[0]' });
    expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first answer byte-for-byte, 422 on another body, nothing created twice', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    const headers = { 'idempotency-key': 'order-42' };
    const raw = async (body: unknown) => {
      const r = await fetch(`${gw.url}/v1/videos/generations`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', authorization: `Bearer ${(await keyOnce()).key}` },
        body: JSON.stringify(body),
      });
      return { status: r.status, text: await r.text(), replayed: r.headers.get('idempotent-replayed') };
    };
    const first = await raw(gw.motion(5));
    const again = await raw(gw.motion(5));
    expect(again.status).toBe(first.status);
    expect(again.text).toBe(first.text);
    expect(again.replayed).toBe('true');
    const other = await raw(gw.motion(6));
    expect(other.status).toBe(422);
    expect(JSON.parse(other.text).error.code).toBe('idempotency_key_reused');
    expect(gw.emulators['fal-main']!.state.tasksCreated).toBe(1);
  });

  it('racing requests with one key create one task; the other gets 409 or the replay', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE, emulator: { latencyMs: 50 } }] });
    const k = await gw.createKey({ name: 'race' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key: k.key, headers: { 'idempotency-key': 'same' } })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    expect(new Set(results.filter((r) => r.status === 200).map((r) => r.body.id)).size).toBe(1);
    expect(gw.emulators['fal-main']!.state.tasksCreated).toBe(1);
  });
});

let cachedKey: { key: string } | undefined;
async function keyOnce() {
  cachedKey ??= await gw.createKey({ name: 'idem' });
  return cachedKey;
}

describe('money under concurrency', () => {
  it('200 concurrent submits on a balance covering exactly N: N accepted, the rest 402, never below zero', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    const N = 37;
    const k = await gw.createKey({ name: 'exact', balance_usd: N * 0.5 }); // 5 s × $0.10 each
    const results = await Promise.all(Array.from({ length: 200 }, () => gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key: k.key })));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBe(N);
    for (const r of results.filter((x) => x.status !== 200)) expect(r.body.error.code).toBe('insufficient_balance');
    const keys = await gw.call('GET', '/admin/keys', { key: ADMIN_KEY });
    expect(keys.body.data.find((x: { id: string }) => x.id === k.id).balance_usd).toBe(0);
  });
});
