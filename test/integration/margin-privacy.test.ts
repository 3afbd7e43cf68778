/**
 * Margin privacy (issue 8 #5, issue 11 #1, CONTRACT §3): with list prices, an API key never sees
 * what a provider charges the operator. A scripted set of client calls runs against upstreams with
 * distinctive prices, and every client-visible answer (estimate, create, get, list, cancel, the
 * callback log, errors, callback bodies) is searched for those upstream numbers. The admin view is
 * searched too, and must contain them: that proves the search can find what it looks for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { microsToUsd, usdToMicros } from '../../src/pricing/money.ts';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

// Distinctive upstream prices: none of their multiples can be confused with the list price's.
const FAL = { '720p': 0.137913, '1080p': 0.241357 };
const REP = { '720p': 0.152749, '1080p': 0.263581 };
const LIST = { '720p': 0.3, '1080p': 0.6 };

/** Every way an upstream cost can be written: unit prices and their totals for 1–30 s. */
function upstreamNumbers(): string[] {
  const out = new Set<string>();
  for (const price of [FAL, REP]) {
    for (const usd of Object.values(price)) {
      for (let n = 1; n <= 30; n++) out.add(String(microsToUsd(usdToMicros(usd) * n)));
    }
  }
  return [...out];
}

let gw: Gateway;
let receiver: RunningServer | undefined;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
  await receiver?.close();
  receiver = undefined;
});

describe('margin privacy under list pricing', () => {
  it('no client-visible answer carries an upstream price; the admin view does', async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-main', type: 'fal', price: FAL },
        { id: 'rep-main', type: 'replicate', price: REP },
      ],
      config: { billing: { models: { 'kling-v3-motion-control': { per_second: LIST } } } },
    });
    const hooks: string[] = [];
    const app = new Hono();
    app.post('/hook', async (c) => {
      hooks.push(await c.req.text());
      return c.text('ok');
    });
    receiver = await listen(app);
    const seen: { what: string; text: string }[] = [];
    const record = <R extends { status: number; body: any }>(what: string, res: R): R => {
      seen.push({ what: `${what} → ${res.status}`, text: JSON.stringify(res.body) });
      return res;
    };
    const call = async (what: string, method: string, path: string, opts: Parameters<Gateway['call']>[2] = {}) => record(what, await gw.call(method, path, opts));

    await call('models', 'GET', '/v1/models');
    const est = await call('estimate 720p', 'POST', '/v1/videos/generations/estimate', { body: gw.motion(5) });
    expect(est.status).toBe(200);
    expect(est.body.estimate_usd).toBe(1.5);
    expect(est.body.candidates.map((c: { estimate_usd: number }) => c.estimate_usd)).toEqual([1.5, 1.5]);
    await call('estimate 1080p', 'POST', '/v1/videos/generations/estimate', { body: gw.motion(7, { quality: '1080p' }) });
    // A price ceiling: its refusal names the cheapest price the key could have had, never a provider's cost.
    const capped = await call('estimate, max_cost', 'POST', '/v1/videos/generations/estimate', { body: gw.motion(5, { route: { max_cost_usd: 1 } }) });
    expect(capped.body.candidates.every((c: { eligible: boolean }) => !c.eligible)).toBe(true);
    const over = await call('create, max_cost', 'POST', '/v1/videos/generations', { body: gw.motion(5, { route: { max_cost_usd: 1 } }) });
    expect(over.body.error).toMatchObject({ code: 'max_cost_exceeded' });
    expect(over.body.error.message).toContain('$1.5');

    // A task that completes, with a callback.
    const done = await call('create', 'POST', '/v1/videos/generations', { body: gw.motion(5, { callback_url: `${receiver.url}/hook` }) });
    expect(done.status).toBe(200);
    await gw.settle(done.body.id);
    await gw.runtime.callbacks.runDue();
    expect(hooks).toHaveLength(1);
    await call('get', 'GET', `/v1/tasks/${done.body.id}`);
    await call('callback log', 'GET', `/v1/tasks/${done.body.id}/callbacks`);

    // A failover to the pricier provider, and a task failed upstream after a failover.
    gw.emulators['fal-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
    const failover = await call('create with failover', 'POST', '/v1/videos/generations', { body: gw.motion(6, { quality: '1080p' }) });
    expect(failover.status).toBe(200);
    gw.emulators['fal-main']!.state.fates.push({ outcome: 'fail', providerSide: true, message: 'render farm on fire' });
    gw.emulators['rep-main']!.state.fates.push({ outcome: 'fail', providerSide: true, message: 'out of GPUs' });
    const failed = await call('create to fail', 'POST', '/v1/videos/generations', { body: gw.motion(4) });
    await gw.settle(failed.body.id);
    await call('get failed', 'GET', `/v1/tasks/${failed.body.id}`);

    // Cancel, list.
    const toCancel = await call('create to cancel', 'POST', '/v1/videos/generations', { body: gw.motion(8) });
    await call('cancel', 'POST', `/v1/tasks/${toCancel.body.id}/cancel`);
    await call('list', 'GET', '/v1/tasks?limit=100');

    // Errors: every provider failing at submit, a balance too low, no provider left.
    for (const id of ['fal-main', 'rep-main']) gw.emulators[id]!.state.submitFaults.push({ kind: 'status', status: 503 });
    expect((await call('create, all fail', 'POST', '/v1/videos/generations', { body: gw.motion(5) })).status).toBe(503);
    const poor = await gw.createKey({ name: 'poor', balance_usd: 0.5 });
    expect((await call('create, poor key', 'POST', '/v1/videos/generations', { body: gw.motion(5), key: poor.key })).status).toBe(402);
    for (const id of ['fal-main', 'rep-main']) {
      expect((await gw.call('PATCH', `/admin/providers/${id}`, { body: { enabled: false }, key: ADMIN_KEY })).status).toBe(200);
    }
    expect((await call('estimate, none left', 'POST', '/v1/videos/generations/estimate', { body: gw.motion(5) })).status).toBe(200);
    expect((await call('create, none left', 'POST', '/v1/videos/generations', { body: gw.motion(5) })).status).toBe(503);
    await call('list after errors', 'GET', '/v1/tasks?limit=100');
    await call('usage', 'GET', '/v1/usage?group_by=day,model');
    await call('usage csv', 'GET', '/v1/usage?group_by=day,model&format=csv');
    for (const body of hooks) seen.push({ what: 'callback body', text: body });

    const numbers = upstreamNumbers();
    const leaks = seen.flatMap(({ what, text }) => numbers.filter((n) => text.includes(n)).map((n) => `${what}: ${n}`));
    expect(leaks).toEqual([]);

    // The search works: the admin's provider view shows these very numbers.
    const admin = JSON.stringify((await gw.call('GET', '/admin/providers', { key: ADMIN_KEY })).body);
    expect(numbers.filter((n) => admin.includes(n))).toEqual(expect.arrayContaining(['0.137913', '0.241357', '0.152749', '0.263581']));
  });

  it('without list prices each candidate shows what the key would pay there (its upstream cost)', async () => {
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: FAL }, { id: 'rep-main', type: 'replicate', price: REP }] });
    const est = await gw.call('POST', '/v1/videos/generations/estimate', { body: gw.motion(5) });
    expect(est.body.estimate_usd).toBe(microsToUsd(usdToMicros(FAL['720p']) * 5));
    expect(est.body.candidates.map((c: { provider: string; estimate_usd: number }) => [c.provider, c.estimate_usd])).toEqual([
      ['fal-main', microsToUsd(usdToMicros(FAL['720p']) * 5)],
      ['rep-main', microsToUsd(usdToMicros(REP['720p']) * 5)],
    ]);
  });
});
