/**
 * Routing preferences (CONTRACT §7) over real HTTP: each `route` field on create and estimate,
 * per-key defaults (PATCH /admin/keys/{id}) merged field by field, and max_cost_usd holding on
 * failover. fal-main is the pricier provider, rep-main the cheaper one.
 */
import { afterEach, expect, it } from 'vitest';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

const CHEAP = { '720p': 0.09, '1080p': 0.15 };
const PRICEY = { '720p': 0.126, '1080p': 0.168 };

let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

async function twoProviders(extra: { falRunMs?: number } = {}): Promise<Gateway> {
  gw = await startGateway({
    providers: [
      { id: 'fal-main', type: 'fal', price: PRICEY, ...(extra.falRunMs ? { emulator: { runMs: extra.falRunMs } } : {}) },
      { id: 'rep-main', type: 'replicate', price: CHEAP },
    ],
  });
  return gw;
}

const create = (route: unknown, key?: string) => gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, route === undefined ? {} : { route }), ...(key ? { key } : {}) });
const estimate = (route: unknown, key?: string) =>
  gw.call('POST', '/v1/videos/generations/estimate', { body: gw.motion(5, route === undefined ? {} : { route }), ...(key ? { key } : {}) });
const reasonOf = (est: { body: { candidates: { provider: string; reason: string | null }[] } }, id: string) => est.body.candidates.find((c) => c.provider === id)?.reason;

it('order, only and ignore choose and exclude providers, with reasons in the estimate', async () => {
  await twoProviders();
  expect((await create(undefined)).body.provider).toBe('rep-main');

  const ordered = await create({ order: ['fal-main'] });
  expect(ordered.status).toBe(200);
  expect(ordered.body.provider).toBe('fal-main');
  expect((await estimate({ order: ['fal-main'] })).body.chosen).toBe('fal-main');

  const only = await estimate({ only: ['fal-main'] });
  expect(only.body.chosen).toBe('fal-main');
  expect(reasonOf(only, 'rep-main')).toBe('not in route.only');
  expect((await create({ only: ['fal-main'] })).body.provider).toBe('fal-main');

  const ignored = await estimate({ ignore: ['rep-main'] });
  expect(ignored.body.chosen).toBe('fal-main');
  expect(reasonOf(ignored, 'rep-main')).toBe('in route.ignore');

  // `only` never widens: nothing left is a 503 with nothing held.
  const none = await create({ only: ['rep-main'], ignore: ['rep-main'] });
  expect(none.status).toBe(503);
  expect(none.body.error.code).toBe('no_provider_available');
  expect(none.body.error.message).toContain('rep-main: in route.ignore');
});

it('only cannot bring back a disabled provider', async () => {
  await twoProviders();
  await gw.call('PATCH', '/admin/providers/fal-main', { key: ADMIN_KEY, body: { enabled: false } });
  const res = await create({ only: ['fal-main'] });
  expect(res.status).toBe(503);
  expect(res.body.error.message).toContain('fal-main: provider disabled');
  expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
});

it('unknown provider ids and an unknown sort are 400s naming the field', async () => {
  await twoProviders();
  const only = await create({ only: ['fal-main', 'nope'] });
  expect(only.status).toBe(400);
  expect(only.body.error).toMatchObject({ code: 'invalid_parameter', param: 'route.only[1]' });
  const ignore = await estimate({ ignore: ['ghost'] });
  expect(ignore.body.error).toMatchObject({ code: 'invalid_parameter', param: 'route.ignore[0]' });
  const sort = await create({ sort: 'fastest' });
  expect(sort.status).toBe(400);
  expect(sort.body.error.param).toBe('route.sort');
  const extra = await create({ prefer: ['fal-main'] });
  expect(extra.status).toBe(400);
  expect((await gw.store.tasks.all())).toHaveLength(0);
});

it('allow_fallbacks: false ends the task with its first candidate', async () => {
  await twoProviders();
  gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
  const res = await create({ allow_fallbacks: false });
  expect(res.status).toBe(503);
  expect(res.body.error.message).toContain('route.allow_fallbacks is false');
  expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
  // The same failure with fallbacks allowed (the default) fails over.
  gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
  const over = await create({ allow_fallbacks: true });
  expect(over.status).toBe(200);
  expect(over.body.attempts.map((a: { provider: string }) => a.provider)).toEqual(['rep-main', 'fal-main']);
});

it('allow_fallbacks: false also holds for a task that fails after it was accepted', async () => {
  await twoProviders();
  gw.emulators['rep-main']!.state.fates.push({ outcome: 'fail', providerSide: true, message: 'GPU lost' });
  const res = await create({ allow_fallbacks: false });
  expect(res.status).toBe(200);
  const done = await gw.settle(res.body.id);
  expect(done.status).toBe('failed');
  expect(done.attempts.map((a: { provider: string }) => a.provider)).toEqual(['rep-main']);
  expect(done.error.message).toContain('route.allow_fallbacks is false');
  expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
});

it('max_cost_usd: 400 max_cost_exceeded before anything is held, naming the cheapest price', async () => {
  await twoProviders();
  const res = await create({ max_cost_usd: 0.3 });
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'max_cost_exceeded', param: 'route.max_cost_usd' });
  expect(res.body.error.message).toContain('$0.45 (rep-main)');
  expect((await gw.store.tasks.all())).toHaveLength(0);
  const est = await estimate({ max_cost_usd: 0.5 });
  expect(est.body.chosen).toBe('rep-main');
  expect(reasonOf(est, 'fal-main')).toBe('over max_cost_usd (would cost $0.63)');
});

it('max_cost_usd forbids a failover that would cost the key more', async () => {
  await twoProviders();
  gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
  const res = await create({ max_cost_usd: 0.5 });
  expect(res.status).toBe(503);
  expect(res.body.error.message).toContain('fal-main: over max_cost_usd');
  expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
  // Task-time failover too: accepted on rep-main, failed there, not resubmitted to fal-main.
  gw.emulators['rep-main']!.state.fates.push({ outcome: 'fail', providerSide: true, message: 'node crashed' });
  const accepted = await create({ max_cost_usd: 0.5 });
  expect(accepted.status).toBe(200);
  const done = await gw.settle(accepted.body.id);
  expect(done.status).toBe('failed');
  expect(done.usage).toMatchObject({ reserved_usd: 0.45, charged_usd: 0, refunded_usd: 0.45 });
  expect(done.error.message).toContain('fal-main: over max_cost_usd');
  expect(gw.emulators['fal-main']!.state.createsReceived).toBe(0);
});

it('sort: speed prefers the provider with the lowest learned p50', async () => {
  await twoProviders({ falRunMs: 2_000 });
  for (const id of ['fal-main', 'rep-main']) {
    const res = await create({ only: [id] });
    expect((await gw.settle(res.body.id)).status).toBe('completed');
  }
  expect((await estimate({ sort: 'price' })).body.chosen).toBe('rep-main');
  const fast = await estimate({ sort: 'speed' });
  expect(fast.body.chosen).toBe('fal-main');
  expect((await create({ sort: 'speed' })).body.provider).toBe('fal-main');
});

it('a key default applies to its requests; a request field replaces the same field only', async () => {
  await twoProviders();
  const key = await gw.createKey({ name: 'policy' });
  const bad = await gw.call('PATCH', `/admin/keys/${key.id}`, { key: ADMIN_KEY, body: { route: { only: ['ghost'] } } });
  expect(bad.status).toBe(400);
  expect(bad.body.error.param).toBe('route.only[0]');
  const patched = await gw.call('PATCH', `/admin/keys/${key.id}`, { key: ADMIN_KEY, body: { route: { only: ['fal-main'], max_cost_usd: 0.7 } } });
  expect(patched.status).toBe(200);
  expect(patched.body.route).toEqual({ only: ['fal-main'], max_cost_usd: 0.7 });

  expect((await create(undefined, key.key)).body.provider).toBe('fal-main');
  // The request's `only` replaces the key's; the key's max_cost_usd still holds.
  expect((await create({ only: ['rep-main'] }, key.key)).body.provider).toBe('rep-main');
  const capped = await create({ max_cost_usd: 0.2 }, key.key);
  expect(capped.body.error.code).toBe('max_cost_exceeded');
  expect(capped.body.error.message).toContain('(fal-main)');
  // Other keys are unaffected; clearing the default restores the policy.
  expect((await create(undefined)).body.provider).toBe('rep-main');
  await gw.call('PATCH', `/admin/keys/${key.id}`, { key: ADMIN_KEY, body: { route: null } });
  expect((await create(undefined, key.key)).body.provider).toBe('rep-main');
});
