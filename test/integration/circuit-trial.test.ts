/**
 * Half-open circuit trials (issue 8 #4): every way out of a trial releases it. An input rejection
 * (the upstream answered 422) proves the provider is up, so it closes the circuit instead of
 * leaving the provider excluded until a restart. Only the request holding the trial frees it, and
 * admission is settled when the create is sent, so two requests ranked before an await send one trial.
 */
import { afterEach, expect, it } from 'vitest';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';
import { prepare } from '../../src/tasks/prepare.ts';
import { submit } from '../../src/tasks/submit.ts';

let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

const PRICE = { '720p': 0.1, '1080p': 0.2 };

async function openCircuit(): Promise<void> {
  gw = await startGateway({
    providers: [{ id: 'fal-main', type: 'fal', price: PRICE }],
    config: { routing: { max_attempts: 3, breaker_failures: 1, breaker_cooldown_ms: 30_000 } },
  });
  gw.emulators['fal-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
  const failed = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect(failed.status).toBe(503);
  const providers = await gw.call('GET', '/admin/providers', { key: 'rr_admin_test_secret' });
  expect(providers.body.data[0].health.state).toBe('open');
  gw.advance(31_000);
}

it('a half-open trial rejected as invalid input closes the circuit and frees the slot', async () => {
  await openCircuit();
  gw.emulators['fal-main']!.state.submitFaults.push({ kind: 'status', status: 422, body: { detail: [{ msg: 'image too small' }] } });
  const rejected = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect(rejected.status, JSON.stringify(rejected.body)).toBe(400);
  expect(rejected.body.error.code).toBe('upstream_rejected');
  const providers = await gw.call('GET', '/admin/providers', { key: 'rr_admin_test_secret' });
  expect(providers.body.data[0].health).toMatchObject({ state: 'closed', consecutive_failures: 0 });
  // The next request goes through at once: no restart, no waiting.
  const next = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect(next.status, JSON.stringify(next.body)).toBe(200);
  expect(next.body.provider).toBe('fal-main');
});

it('a half-open trial that fails re-opens the circuit; one that succeeds closes it', async () => {
  await openCircuit();
  gw.emulators['fal-main']!.state.submitFaults.push({ kind: 'status', status: 500 });
  expect((await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) })).status).toBe(503);
  const est = await gw.call('POST', '/v1/videos/generations/estimate', { body: gw.motion(5) });
  expect(est.body.candidates[0]).toMatchObject({ provider: 'fal-main', eligible: false });
  expect(est.body.candidates[0].reason).toMatch(/circuit open/);
  gw.advance(31_000);
  const ok = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect(ok.status).toBe(200);
  const providers = await gw.call('GET', '/admin/providers', { key: 'rr_admin_test_secret' });
  expect(providers.body.data[0].health.state).toBe('closed');
});

it('two submits ranked in the same turn send one half-open trial; the other fails over', async () => {
  gw = await startGateway({
    providers: [
      { id: 'fal-main', type: 'fal', price: PRICE },
      { id: 'rep-main', type: 'replicate', price: { '720p': 0.3, '1080p': 0.6 } },
    ],
    config: { routing: { max_attempts: 3, breaker_failures: 1, breaker_cooldown_ms: 30_000 } },
  });
  const fal = gw.emulators['fal-main']!.state;
  fal.submitFaults.push({ kind: 'status', status: 503 });
  const first = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect(first.body.provider, JSON.stringify(first.body)).toBe('rep-main'); // fal-main failed: its circuit opened
  gw.advance(31_000);
  const { ctx } = gw.runtime;
  const created = await gw.createKey();
  const key = (await gw.store.keys.byId(created.id))!;
  const p = await prepare(gw.motion(5), key.id, { probe: ctx.probe, store: ctx.store, guard: ctx.guard, files: ctx.files });
  const creates = fal.createsReceived;
  // Both rank fal-main first (half-open, trial free) before either reaches its create. The trial's
  // create takes a moment, so its answer cannot close the circuit before the second is admitted (on
  // PostgreSQL the two submits' transactions commit one after the other, not in one group commit).
  fal.latencyMs = 300;
  const ids = await Promise.all([submit(ctx, key, p), submit(ctx, key, p)]);
  fal.latencyMs = 0;
  expect(fal.createsReceived - creates).toBe(1);
  const tasks = await Promise.all(ids.map(async (id) => ({ provider: (await gw.store.tasks.get(id))!.provider, attempts: await gw.store.tasks.attempts(id) })));
  expect(tasks.map((t) => t.provider).sort()).toEqual(['fal-main', 'rep-main']);
  const failedOver = tasks.find((t) => t.provider === 'rep-main')!;
  expect(failedOver.attempts.map((a) => [a.providerId, a.status, a.errorCode])).toEqual([
    ['fal-main', 'failed', 'circuit_half_open'],
    ['rep-main', 'pending', null],
  ]);
});
