/**
 * Half-open circuit trials (issue 8 #4): every way out of a trial releases it. An input rejection
 * (the upstream answered 422) proves the provider is up, so it closes the circuit instead of
 * leaving the provider excluded until a restart.
 */
import { afterEach, expect, it } from 'vitest';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
afterEach(async () => {
  expectLedgerInvariants(gw.store);
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
