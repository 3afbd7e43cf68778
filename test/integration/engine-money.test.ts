/**
 * Money paths of issue 8: an Idempotency-Key race whose winner fails (#2), and a task that produced
 * more than it was billed for (#8): the key's charge stays capped, the upstream cost never is.
 */
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { rangeResponse } from '../../src/media/range-response.ts';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';
import type { UnderbilledEvent } from '../../src/tasks/finish.ts';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

const PRICE = { '720p': 0.1, '1080p': 0.2 };
let gw: Gateway;
let slowMedia: RunningServer | undefined;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
  await slowMedia?.close();
  slowMedia = undefined;
});

/** A media server that answers after `delayMs` (real time): racing requests both pass the pre-check first. */
async function startSlowMedia(delayMs: number): Promise<RunningServer> {
  const app = new Hono();
  app.get('/v/:file', async (c) => {
    await new Promise((r) => setTimeout(r, delayMs));
    return rangeResponse(c.req.header('range'), syntheticMp4({ durationS: parseFloat(c.req.param('file')) }), { 'content-type': 'video/mp4' });
  });
  return listen(app);
}

describe('Idempotency-Key race', () => {
  it('the loser never stores its 409; a failed winner frees the key; a retry creates and is replayed', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    slowMedia = await startSlowMedia(150);
    const body = { ...gw.motion(5), video_urls: [`${slowMedia.url}/v/5.mp4`] };
    const headers = { 'idempotency-key': 'order-42' };
    const fal = gw.emulators['fal-main']!.state;
    fal.submitFaults.push({ kind: 'status', status: 503 }); // the winner's only provider fails

    const race = await Promise.all([1, 2].map(() => gw.call('POST', '/v1/videos/generations', { body, headers })));
    expect(race.map((r) => r.status).sort()).toEqual([409, 503]);
    expect(race.find((r) => r.status === 409)!.body.error.code).toBe('idempotency_key_in_use');
    expect(race.find((r) => r.status === 503)!.body.error.code).toBe('no_provider_available');
    expect(fal.createsReceived).toBe(1);

    // The provider is back: the retry with the same key runs, and is what the key replays from now on.
    const retry = await gw.call('POST', '/v1/videos/generations', { body, headers });
    expect(retry.status).toBe(200);
    expect(retry.body.status).toMatch(/pending|processing/);
    const replay = await gw.call('POST', '/v1/videos/generations', { body, headers });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(retry.body);
    expect(fal.tasksCreated).toBe(1);
  });

  it('a 503 whose create may have landed upstream is replayed, never released for a second create', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    const fal = gw.emulators['fal-main']!.state;
    fal.submitFaults.push({ kind: 'accept_then_reset' }); // created upstream, the answer lost
    const headers = { 'idempotency-key': 'lost-answer' };
    const first = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), headers });
    expect(first.status).toBe(503);
    const again = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), headers });
    expect(again.status).toBe(503);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(fal.tasksCreated).toBe(1);
    expect((await gw.store.tasks.all())).toHaveLength(1);
  });

  it('a winner whose input is rejected stores its 400, which is replayed', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    const headers = { 'idempotency-key': 'bad-input' };
    gw.emulators['fal-main']!.state.submitFaults.push({ kind: 'status', status: 422, body: { detail: [{ msg: 'image has no person' }] } });
    const first = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), headers });
    expect(first.status).toBe(400);
    expect(first.body.error.code).toBe('upstream_rejected');
    const again = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), headers });
    expect(again.status).toBe(400);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(gw.emulators['fal-main']!.state.createsReceived).toBe(1);
    // Attempt and task ended together.
    const task = (await gw.store.tasks.all())[0]!;
    expect(task.status).toBe('failed');
    expect((await gw.store.tasks.attempts(task.id)).map((a) => [a.status, a.errorCode])).toEqual([['failed', 'upstream_rejected']]);
  });
});

describe('under-billing', () => {
  it('books what the provider produced, charges the key at most its hold, flags and audits the gap', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    const events: UnderbilledEvent[] = [];
    const counted = gw.runtime.ctx.onUnderbilled;
    gw.runtime.ctx.onUnderbilled = (e) => {
      events.push(e);
      counted?.(e);
    };
    const fal = gw.emulators['fal-main']!.state;
    // The probe read 5 s; the provider rendered (and bills) 9 s. Then a normal task producing 4 s.
    fal.fates.push({ outcome: 'complete', durationS: 9 }, { outcome: 'complete', durationS: 4 });
    const over = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const normal = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const done = await gw.settle(over.body.id);
    await gw.settle(normal.body.id);

    expect(done.usage).toMatchObject({ reserved_usd: 0.5, charged_usd: 0.5, refunded_usd: 0 });
    const row = (await gw.store.tasks.get(over.body.id))!;
    expect(row).toMatchObject({ producedUnits: 9, underbilled: true, upstreamCostMicros: 900_000, chargedMicros: 500_000 });
    expect((await gw.store.tasks.get(normal.body.id))).toMatchObject({ producedUnits: 4, underbilled: false, upstreamCostMicros: 400_000, chargedMicros: 400_000 });

    expect(events).toEqual([
      expect.objectContaining({ taskId: over.body.id, provider: 'fal-main', billedUnits: 5, producedUnits: 9, unbilledMicros: 400_000, unbilledCostMicros: 400_000 }),
    ]);
    const audit = await gw.call('GET', '/admin/audit', { key: ADMIN_KEY });
    const entry = audit.body.data.find((a: { action: string }) => a.action === 'task.underbilled');
    expect(entry).toMatchObject({ target: over.body.id, after: { produced_units: 9, unbilled_usd: 0.4, upstream_cost_usd: 0.9 } });

    const view = await gw.call('GET', `/admin/tasks/${over.body.id}`, { key: ADMIN_KEY });
    expect(view.body).toMatchObject({ underbilled: true, produced_units: 9, upstream_cost_usd: 0.9, usage: { charged_usd: 0.5 } });
    const metrics = await gw.call('GET', '/metrics', { key: null });
    expect(String(metrics.body)).toMatch(/^reelroute_underbilled_micros_total 400000$/m);

    // Finance sees the real cost: the spend report books 0.9 + 0.4 upstream against 0.5 + 0.4 charged.
    const spend = await gw.call('GET', '/admin/spend?format=json', { key: ADMIN_KEY });
    expect(spend.status, JSON.stringify(spend.body)).toBe(200);
    expect(spend.body.totals).toMatchObject({ charged_usd: 0.9, upstream_cost_usd: 1.3 });
  });
});

describe('measuring the output', () => {
  it('one failed read of the output header does not charge the whole quote', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
    gw.emulators['fal-main']!.state.fates.push({ outcome: 'complete', durationS: 4, reportDuration: false });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    // From here the probe is busy once (its global bound is full), then answers again.
    const probe = gw.runtime.ctx.probe;
    const real = probe.duration.bind(probe);
    let busy = 1;
    probe.duration = async (url) => (busy-- > 0 ? { ok: false, reason: 'too many probes at once', busy: true } : real(url));
    const done = await gw.settle(res.body.id);
    expect(busy).toBeLessThan(0);
    expect(done.usage).toMatchObject({ reserved_usd: 0.5, charged_usd: 0.4, refunded_usd: 0.1 });
    expect((await gw.store.tasks.get(res.body.id))!.producedUnits).toBe(4);
  });
});
