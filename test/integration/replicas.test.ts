/**
 * Two replicas on one PostgreSQL database (issue 13 #2), in one test process: two runtimes, two
 * stores (two pools), two HTTP servers, the same upstream emulators and the same manual clock.
 * Each due task is polled and each callback sent by one replica; a dead replica's claims are taken
 * over once its lease runs out; holds and Idempotency-Keys stay exact across replicas; an admin
 * change on one reaches the other at its next look. Runs in the `postgres` project only.
 */
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { LEASE_MS } from '../../src/leases.ts';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, startReplica, type Gateway, type Replica } from '../helpers/gateway.ts';

const PRICE = { '720p': 0.1, '1080p': 0.2 };
let a: Gateway;
let b: Replica;
let rx: RunningServer | undefined;

afterEach(async () => {
  await expectLedgerInvariants(a.store);
  await b.close();
  await a.close();
  await rx?.close();
  rx = undefined;
});

async function pair(): Promise<void> {
  a = await startGateway({ providers: [{ id: 'fal', type: 'fal', price: PRICE }] });
  b = await startReplica(a, 'replica-b');
}

describe('two replicas on one database', () => {
  it('each due task is polled by one replica; a dead replica\'s claims are taken over after the lease', async () => {
    await pair();
    const fal = a.emulators.fal!;
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await a.call('POST', '/v1/videos/generations', { body: a.motion(5) })).body.id);
    a.advance(1_500);
    const before = fal.state.polls;
    const [fromA, fromB] = await Promise.all([a.runtime.poller.runDue(), b.runtime.poller.runDue()]);
    expect(fromA + fromB).toBe(8);
    expect(fal.state.polls - before).toBe(8);

    // A replica claims everything due and dies before polling: nobody polls those tasks until its lease ends …
    a.advance(5_000);
    const claimed = await a.store.tasks.claimDue(a.now(), 100, 'dead-replica', LEASE_MS);
    expect(claimed.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(await b.runtime.poller.runDue()).toBe(0);
    // … then another replica takes them over.
    a.advance(LEASE_MS + 1);
    expect(await b.runtime.poller.runDue()).toBe(8);
    for (const id of ids) expect((await a.settle(id)).status).toBe('completed');
  });

  it('each callback is sent once although both replicas run their senders at the same moment', async () => {
    await pair();
    const got: string[] = [];
    const app = new Hono();
    app.post('/hook', (c) => {
      got.push(c.req.header('webhook-id')!);
      return c.body(null, 204);
    });
    rx = await listen(app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await a.call('POST', '/v1/videos/generations', { body: a.motion(5, { callback_url: `${rx.url}/hook` }) })).body.id);
    for (const id of ids) await a.settle(id);
    await Promise.all([a.runtime.callbacks.runDue(), b.runtime.callbacks.runDue()]);
    expect(got.sort()).toEqual(ids.map((id) => `msg_${id}_completed`).sort());
  });

  it('holds stay exact when both replicas submit against one balance at once', async () => {
    await pair();
    const key = await a.createKey({ name: 'prepaid', balance_usd: 2.5 });
    const sends = Array.from({ length: 12 }, (_, i) => (i % 2 ? b : a).call('POST', '/v1/videos/generations', { body: a.motion(5), key: key.key }));
    const answers = await Promise.all(sends);
    expect(answers.filter((r) => r.status === 200)).toHaveLength(5);
    expect(answers.filter((r) => r.status !== 200).every((r) => r.status === 402)).toBe(true);
    const row = await b.store.keys.byId(key.id);
    expect(row!.balanceMicros).toBe(0);
  });

  it('one Idempotency-Key sent to both replicas at once creates one task; the taker\'s answer is what replays', async () => {
    await pair();
    const fal = a.emulators.fal!;
    const key = await a.createKey({ name: 'idem' });
    const body = a.motion(5);
    const headers = { 'idempotency-key': 'same-on-both' };
    const creates = fal.state.createsReceived;
    const [ra, rb] = await Promise.all([a.call('POST', '/v1/videos/generations', { body, key: key.key, headers }), b.call('POST', '/v1/videos/generations', { body, key: key.key, headers })]);
    expect(fal.state.createsReceived - creates).toBe(1);
    const statuses = [ra.status, rb.status].sort();
    expect([[200, 200], [200, 409]]).toContainEqual(statuses);
    const winner = ra.status === 200 ? ra : rb;
    for (const replica of [a, b]) {
      const again = await replica.call('POST', '/v1/videos/generations', { body, key: key.key, headers });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(winner.body.id);
    }
    await a.settle(winner.body.id, key.key);
  });

  it('an admin change on one replica reaches the other at its next look (a revoked key, a disabled provider)', async () => {
    await pair();
    const key = await a.createKey({ name: 'soon revoked' });
    await b.runtime.replicas.look();
    // The other replica has the key cached.
    expect((await b.call('GET', '/v1/tasks', { key: key.key })).status).toBe(200);
    expect((await a.call('DELETE', `/admin/keys/${key.id}`, { key: ADMIN_KEY })).status).toBe(200);
    expect((await a.call('PATCH', '/admin/providers/fal', { key: ADMIN_KEY, body: { enabled: false } })).status).toBe(200);
    await b.runtime.replicas.look();
    expect((await b.call('GET', '/v1/tasks', { key: key.key })).status).toBe(401);
    expect(b.runtime.ctx.providers.find((p) => p.id === 'fal')!.enabled).toBe(false);
  });

  it('a circuit opened by one replica\'s failures holds on the other after a look', async () => {
    await pair();
    for (let i = 0; i < 3; i++) a.runtime.ctx.health.failure('fal', 'kling-v3-motion-control');
    await a.runtime.ctx.health.flush();
    expect(b.runtime.ctx.health.state('fal', 'kling-v3-motion-control')).toBe('closed');
    await b.runtime.replicas.look();
    expect(b.runtime.ctx.health.state('fal', 'kling-v3-motion-control')).toBe('open');
  });
});
