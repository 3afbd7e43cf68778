/** Routing and failover over real HTTP: gateway + fal and replicate emulators on 127.0.0.1. */
import { afterEach, describe, expect, it } from 'vitest';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

const CHEAP = { '720p': 0.09, '1080p': 0.15 };
const PRICEY = { '720p': 0.126, '1080p': 0.168 };

let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

describe('routing', () => {
  it('sends the task to the cheapest provider and charges the produced seconds', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: PRICEY },
        { id: 'rep-main', type: 'replicate', price: CHEAP },
      ],
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(7) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      object: 'video.generation.task',
      status: 'pending',
      provider: 'rep-main',
      usage: { billing_rule: 'per_second', billable_units: 7, unit_price_usd: 0.09, reserved_usd: 0.63, charged_usd: 0, refunded_usd: 0 },
    });
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    gw.emulators['rep-main']!.state.outputDurationS = 7;
    const done = await gw.settle(res.body.id);
    expect(done.status).toBe('completed');
    expect(done.results).toHaveLength(1);
    expect(done.usage).toMatchObject({ charged_usd: 0.63, refunded_usd: 0 });
    expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
  });

  it('a lower priority tier wins over a lower price', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: PRICEY, priority: 0 },
        { id: 'rep-main', type: 'replicate', price: CHEAP, priority: 1 },
      ],
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.body.provider).toBe('fal-main');
    const est = await gw.call('POST', '/v1/videos/generations/estimate', { body: gw.motion(5) });
    expect(est.body).toMatchObject({ chosen: 'fal-main', billable_units: 5, estimate_usd: 0.63 });
    expect(est.body.candidates.map((c: { provider: string }) => c.provider)).toEqual(['fal-main', 'rep-main']);
  });

  it('fails over at submit when the cheapest answers 503', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: PRICEY },
        { id: 'rep-main', type: 'replicate', price: CHEAP },
      ],
    });
    gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.status).toBe(200);
    expect(res.body.provider).toBe('fal-main');
    expect(res.body.attempts.map((a: { provider: string; status: string }) => [a.provider, a.status])).toEqual([
      ['rep-main', 'failed'],
      ['fal-main', 'pending'],
    ]);
    // The pricier provider grows the hold: 5 s × $0.126.
    expect(res.body.usage).toMatchObject({ unit_price_usd: 0.126, reserved_usd: 0.63 });
    const done = await gw.settle(res.body.id);
    expect(done.usage).toMatchObject({ charged_usd: 0.63, refunded_usd: 0 });
  });

  it('an accepted task that fails upstream is finished elsewhere under the same id', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: PRICEY },
        { id: 'rep-main', type: 'replicate', price: CHEAP },
      ],
    });
    gw.emulators['rep-main']!.state.fates.push({ outcome: 'fail', providerSide: true });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.body.provider).toBe('rep-main');
    const done = await gw.settle(res.body.id);
    expect(done.id).toBe(res.body.id);
    expect(done.status).toBe('completed');
    expect(done.provider).toBe('fal-main');
    expect(done.attempts.map((a: { provider: string; status: string }) => [a.provider, a.status])).toEqual([
      ['rep-main', 'failed'],
      ['fal-main', 'completed'],
    ]);
    expect(gw.emulators['fal-main']!.state.tasksCreated).toBe(1);
  });

  it('when every provider fails the task fails and the hold is refunded in full', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: PRICEY },
        { id: 'rep-main', type: 'replicate', price: CHEAP },
      ],
    });
    gw.emulators['rep-main']!.state.fates.push({ outcome: 'fail', providerSide: true });
    gw.emulators['fal-main']!.state.fates.push({ outcome: 'fail', providerSide: true });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const done = await gw.settle(res.body.id);
    expect(done.status).toBe('failed');
    expect(done.error.code).toBe('upstream_failed');
    expect(done.usage.charged_usd).toBe(0);
    expect(done.usage.refunded_usd).toBe(done.usage.reserved_usd);
  });

  it('every provider failing at submit answers 503 and charges nothing', async () => {
    gw = await startGateway({ providers: [{ id: 'rep-main', type: 'replicate', price: CHEAP }] });
    gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 500 });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'no_provider_available', type: 'upstream_error' });
    const [task] = await gw.store.tasks.all();
    expect(task).toMatchObject({ status: 'failed', chargedMicros: 0 });
  });

  it('an upstream 422 is a 400 upstream_rejected: one attempt, no failover, no charge', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: PRICEY },
        { id: 'rep-main', type: 'replicate', price: CHEAP },
      ],
    });
    gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 422, body: { detail: 'invalid input' } });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'upstream_rejected', type: 'invalid_request_error' });
    expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
    const [task] = await gw.store.tasks.all();
    expect((await gw.store.tasks.attempts(task!.id))).toHaveLength(1);
    expect(task).toMatchObject({ status: 'failed', chargedMicros: 0, refundedMicros: task!.reservedMicros });
  });

  it('opens the circuit after repeated provider failures and routes around it', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: PRICEY },
        { id: 'rep-main', type: 'replicate', price: CHEAP },
      ],
    });
    const rep = gw.emulators['rep-main']!.state;
    for (let i = 0; i < 3; i++) rep.submitFaults.push({ kind: 'status', status: 503 });
    for (let i = 0; i < 3; i++) await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    const before = rep.createsReceived;
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.body.attempts).toHaveLength(1);
    expect(res.body.provider).toBe('fal-main');
    expect(rep.createsReceived).toBe(before);
    const providers = await gw.call('GET', '/admin/providers', { key: 'rr_admin_test_secret' });
    const repHealth = providers.body.data.find((p: { id: string }) => p.id === 'rep-main').models['kling-v3-motion-control'].health;
    expect(repHealth.state).toBe('open');
    // After the cooldown one trial goes through and closes the circuit again.
    gw.advance(61_000);
    const later = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(later.body.provider).toBe('rep-main');
  });
});
