/** GET /admin/tasks and /admin/tasks/{id}: every key's tasks, filters, cursor, upstream cost and ledger lines. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
let alpha: { id: string; key: string };
let beta: { id: string; key: string };
const ids: Record<string, string> = {};
const admin = (path: string) => gw.call('GET', path, { key: ADMIN_KEY });

beforeAll(async () => {
  gw = await startGateway({
    providers: [
      { id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } },
      { id: 'rep-1', type: 'replicate', priority: 1, price: { '720p': 0.07, '1080p': 0.12 } },
    ],
    config: { billing: { models: { 'kling-v3-motion-control': { per_second: { '720p': 0.15, '1080p': 0.3 } } } } },
  });
  alpha = await gw.createKey({ name: 'alpha', balance_usd: 10 });
  beta = await gw.createKey({ name: 'beta' });
  // alpha: completes on fal (4 s produced of 6 quoted).
  gw.emulators['fal-main']!.state.fates.push({ outcome: 'complete', durationS: 4 });
  ids.done = (await gw.call('POST', '/v1/videos/generations', { body: gw.motion(6), key: alpha.key })).body.id;
  await gw.settle(ids.done!, alpha.key);
  // beta: fal answers 503, the task fails over to replicate and completes there.
  gw.emulators['fal-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
  ids.failover = (await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key: beta.key })).body.id;
  await gw.settle(ids.failover!, beta.key);
  // beta: fails provider-side on fal, then on replicate: refunded in full.
  gw.emulators['fal-main']!.state.fates.push({ outcome: 'fail', providerSide: true });
  gw.emulators['rep-1']!.state.fates.push({ outcome: 'fail', providerSide: true });
  ids.failed = (await gw.call('POST', '/v1/videos/generations', { body: gw.motion(3), key: beta.key })).body.id;
  await gw.settle(ids.failed!, beta.key);
});
afterAll(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

describe('admin task routes', () => {
  it('shows a task with its key, upstream cost, per-attempt cost and ledger lines', async () => {
    const res = await admin(`/admin/tasks/${ids.done}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: ids.done,
      object: 'video.generation.task',
      status: 'completed',
      key_id: alpha.id,
      provider: 'fal-main',
      upstream_cost_usd: 0.4,
      produced_units: 4,
      underbilled: false,
      list_priced: true,
      usage: { reserved_usd: 0.9, charged_usd: 0.6, refunded_usd: 0.3 },
      attempts: [{ provider: 'fal-main', status: 'completed', unit_cost_usd: 0.1, upstream_cost_usd: 0.4 }],
    });
    expect(res.body.ledger.map((l: { kind: string; amount_usd: number }) => [l.kind, l.amount_usd])).toEqual([
      ['hold', 0.9],
      ['charge', 0.6],
      ['refund', 0.3],
    ]);
    // The prepaid key's balance moves with the hold and the refund, not the charge.
    expect(res.body.ledger.map((l: { balance_delta_usd: number }) => l.balance_delta_usd)).toEqual([-0.9, 0, 0.3]);
  });

  it('a failed-over task lists both attempts, the failed one costing nothing', async () => {
    const res = await admin(`/admin/tasks/${ids.failover}`);
    expect(res.body.attempts).toMatchObject([
      { provider: 'fal-main', status: 'failed', upstream_cost_usd: 0 },
      { provider: 'rep-1', status: 'completed', unit_cost_usd: 0.07, upstream_cost_usd: 0.35 },
    ]);
    expect(res.body).toMatchObject({ key_id: beta.id, provider: 'rep-1', upstream_cost_usd: 0.35 });
  });

  it('a task that produced more than it was quoted shows the uncapped upstream cost and underbilled', async () => {
    gw.emulators['fal-main']!.state.fates.push({ outcome: 'complete', durationS: 8 });
    const id = (await gw.call('POST', '/v1/videos/generations', { body: gw.motion(6), key: alpha.key })).body.id;
    await gw.settle(id, alpha.key);
    const res = await admin(`/admin/tasks/${id}`);
    expect(res.body).toMatchObject({ produced_units: 8, underbilled: true, upstream_cost_usd: 0.8, usage: { charged_usd: 0.9, refunded_usd: 0 } });
    expect(res.body.attempts).toMatchObject([{ status: 'completed', upstream_cost_usd: 0.8 }]);
    ids.over = id;
  });

  it('lists every key newest first with filters and a cursor', async () => {
    const all = await admin('/admin/tasks');
    expect(all.status).toBe(200);
    expect(all.body.data.map((t: { id: string }) => t.id)).toEqual([ids.over, ids.failed, ids.failover, ids.done]);
    expect(all.body.has_more).toBe(false);

    const page1 = await admin('/admin/tasks?limit=3');
    expect(page1.body.has_more).toBe(true);
    const page2 = await admin(`/admin/tasks?limit=3&after=${page1.body.data[2].id}`);
    expect(page2.body).toMatchObject({ has_more: false, data: [{ id: ids.done }] });

    expect((await admin(`/admin/tasks?key=${beta.id}`)).body.data.map((t: { id: string }) => t.id)).toEqual([ids.failed, ids.failover]);
    expect((await admin('/admin/tasks?status=failed')).body.data.map((t: { id: string }) => t.id)).toEqual([ids.failed]);
    expect((await admin(`/admin/tasks?provider=rep-1&key=${beta.id}`)).body.data.map((t: { id: string }) => t.id)).toEqual([ids.failed, ids.failover]);
    expect((await admin('/admin/tasks?model=kling-custom-element')).body.data).toEqual([]);
  });

  it('answers the error envelope for bad input and 404 for an unknown task', async () => {
    const bad = await admin('/admin/tasks?status=done');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_parameter', param: 'status' });
    expect((await admin('/admin/tasks?limit=0')).body.error.param).toBe('limit');
    const missing = await admin('/admin/tasks/task_nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('is for the admin only: an API key gets 403 and never sees upstream cost', async () => {
    const res = await gw.call('GET', `/admin/tasks/${ids.done}`, { key: alpha.key });
    expect(res.status).toBe(403);
    const own = await gw.call('GET', `/v1/tasks/${ids.done}`, { key: alpha.key });
    expect(own.body).not.toHaveProperty('upstream_cost_usd');
    expect(own.body).not.toHaveProperty('ledger');
  });
});
