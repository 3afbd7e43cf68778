/**
 * Sibling of issue 8 #7 in the callback worker: a receiver that hangs, with a backlog larger than the
 * batch, must not hold up another receiver's callbacks (scaled down: batch 4, 4 at once, 2 per host).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/db/store.ts';
import { startGateway, type Gateway } from '../helpers/gateway.ts';

const PRICE = { '720p': 0.1, '1080p': 0.2 };
const TIMEOUT_MS = 400;

let gw: Gateway;
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await gw?.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A real HTTP receiver on 127.0.0.1; `respond` false holds every request open until the client gives up. */
async function receiver(respond: boolean) {
  const state = { open: 0, maxOpen: 0, ids: [] as string[] };
  let onRequest: (id: string) => void = () => undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.ids.push(String(req.headers['webhook-id']));
    state.open++;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    res.on('close', () => state.open--);
    req.resume();
    req.on('end', () => {
      onRequest(String(req.headers['webhook-id']));
      if (respond) res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const next = () => new Promise<string>((r) => (onRequest = r));
  servers.push({ close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) });
  return { url, state, next };
}

describe('callback worker fairness', () => {
  it('a hanging receiver with a backlog larger than the batch does not delay another receiver', async () => {
    gw = await startGateway({
      providers: [{ id: 'fal-main', type: 'fal', price: PRICE }],
      config: { callbacks: { allow_insecure: true, timeout_ms: TIMEOUT_MS, batch: 4, concurrency: 4, per_host_concurrency: 2 } },
    });
    const hanging = await receiver(false);
    const onTime = await receiver(true);
    const owner = await gw.createKey({ name: 'hooks' });
    // The hanging receiver's backlog: older than anything else and larger than any batch (the old fixed one was 100).
    const past = gw.now() - 60_000;
    for (let i = 0; i < 120; i++) {
      await gw.store.deliveries.insert({
        id: `msg_backlog_${String(i).padStart(3, '0')}`,
        taskId: `task_backlog_${i}`,
        keyId: owner.id,
        url: hanging.url,
        event: 'task.completed',
        payload: '{}',
        status: 'pending',
        attempts: 0,
        nextAttemptAt: past + i,
        lastStatusCode: null,
        lastError: null,
        createdAt: past,
        updatedAt: past,
        deliveredAt: null,
        leaseOwner: null,
      });
    }
    // Another client's real task, ending now, with its callback to a healthy receiver.
    const task = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { callback_url: onTime.url }) });
    expect(task.status).toBe(200);
    await gw.settle(task.body.id);

    const arrived = onTime.next();
    const tick = gw.runtime.callbacks.runDue();
    const first = await Promise.race([arrived.then(() => 'callback'), tick.then(() => 'tick ended')]);
    expect(first).toBe('callback');
    // It arrived while the hanging receiver's sends were still open: nobody waited for them.
    const backlog = async () => (await gw.store.deliveries.all()).filter((d) => d.url === hanging.url);
    expect((await backlog()).every((d) => d.attempts === 0)).toBe(true);
    // A tick while those are in flight re-reads the outbox: rows in flight are skipped, the host stays at its bound.
    const again = gw.runtime.callbacks.runDue();
    await Promise.all([tick, again]);

    const mine = (await gw.store.deliveries.all()).find((d) => d.url === onTime.url)!;
    expect(mine).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200 });
    expect(hanging.state.maxOpen).toBe(2);
    expect(new Set(hanging.state.ids).size).toBe(hanging.state.ids.length);
    // What was tried timed out (the outbound timeout stays) and waits for its retry; the rest was not touched.
    const tried = (await backlog()).filter((d) => d.attempts > 0);
    expect(tried.length).toBe(hanging.state.ids.length);
    for (const d of tried) {
      expect(d).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: null });
      expect(d.lastError).toBeTruthy();
      expect(d.nextAttemptAt).toBeGreaterThan(gw.now());
    }
  });
});

describe('reading due deliveries', () => {
  it('a few per receiver host, receivers in turn, oldest first within each; nothing not yet due', async () => {
    const store = await openStore(':memory:');
    try {
      const row = (id: string, url: string, at: number) =>
        store.deliveries.insert({ id, taskId: id, keyId: 'k', url, event: 'task.completed', payload: '{}', status: 'pending', attempts: 0, nextAttemptAt: at, lastStatusCode: null, lastError: null, createdAt: 0, updatedAt: 0, deliveredAt: null, leaseOwner: null });
      for (let i = 0; i < 5; i++) await row(`a${i}`, `http://a.example:8080/hook/${i}`, 10 + i); // one host, many paths
      await row('b0', 'https://b.example', 50); // no path
      await row('c0', 'https://user@c.example/x?y=1', 60);
      await row('late', 'https://d.example/x', 1_000);
      const ids = (await store.deliveries.dueByReceiver(100, 2, 10)).map((d) => d.id);
      expect(ids).toEqual(['a0', 'b0', 'c0', 'a1']);
      expect((await store.deliveries.dueByReceiver(100, 2, 2)).map((d) => d.id)).toEqual(['a0', 'b0']);
    } finally {
      await store.close();
    }
  });
});
