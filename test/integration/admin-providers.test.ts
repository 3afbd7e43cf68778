/** PATCH /admin/providers/{id} and GET /admin/audit over real HTTP: live routing changes, persistence, audit. */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/db/store.ts';
import { createRuntime } from '../../src/runtime.ts';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

const CHEAP = { '720p': 0.09, '1080p': 0.15 };
const PRICEY = { '720p': 0.126, '1080p': 0.168 };
const MC = 'kling-v3-motion-control';

let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

const start = () =>
  startGateway({
    providers: [
      { id: 'fal-main', type: 'fal', price: PRICEY },
      { id: 'rep-main', type: 'replicate', price: CHEAP },
    ],
  });
const patch = (id: string, body: unknown) => gw.call('PATCH', `/admin/providers/${id}`, { body, key: ADMIN_KEY });
const submit = async (seconds = 5) => {
  const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(seconds) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const estimate = async (seconds = 5) => (await gw.call('POST', '/v1/videos/generations/estimate', { body: gw.motion(seconds) })).body;
const listed = async (id: string) => (await gw.call('GET', '/admin/providers', { key: ADMIN_KEY })).body.data.find((p: { id: string }) => p.id === id);
const auditLog = async (query = '') => (await gw.call('GET', `/admin/audit${query}`, { key: ADMIN_KEY })).body;

describe('PATCH /admin/providers/{id}', () => {
  it('disabling the cheapest provider routes the next task to the other at once; enabling restores it', async () => {
    gw = await start();
    expect((await submit()).provider).toBe('rep-main');

    const off = await patch('rep-main', { enabled: false });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body).toMatchObject({ id: 'rep-main', type: 'replicate', enabled: false, priority: 0 });
    // The answer is the provider exactly as GET /admin/providers lists it.
    expect(off.body).toEqual(await listed('rep-main'));

    expect((await submit()).provider).toBe('fal-main');
    const est = await estimate();
    expect(est.chosen).toBe('fal-main');
    expect(est.candidates.find((c: { provider: string }) => c.provider === 'rep-main')).toMatchObject({ eligible: false, reason: 'provider disabled' });

    expect((await patch('rep-main', { enabled: true })).body.enabled).toBe(true);
    expect((await submit()).provider).toBe('rep-main');
  });

  it('a priority change reorders the candidates', async () => {
    gw = await start();
    const res = await patch('rep-main', { priority: 1 });
    expect(res.body).toMatchObject({ id: 'rep-main', priority: 1 });
    expect((await submit()).provider).toBe('fal-main');
    const est = await estimate();
    expect(est.candidates.map((c: { provider: string; priority: number }) => [c.provider, c.priority])).toEqual([
      ['fal-main', 0],
      ['rep-main', 1],
    ]);
  });

  it('a price override changes the quote and the hold, in USD or in credits', async () => {
    gw = await start();
    const usd = { per_second: { '720p': 0.05, '1080p': 0.08 } };
    const res = await patch('fal-main', { models: { [MC]: { price: usd } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.models[MC]).toMatchObject({ enabled: true, price: usd });
    expect(await estimate(5)).toMatchObject({ chosen: 'fal-main', estimate_usd: 0.25 });
    const t1 = await submit(5);
    expect(t1.provider).toBe('fal-main');
    expect(t1.usage).toMatchObject({ unit_price_usd: 0.05, reserved_usd: 0.25 });

    // 8 credits × $0.005 = $0.04 per second: now the cheapest.
    const credits = { per_second: { '720p': 8, '1080p': 12 }, credit_usd: 0.005 };
    expect((await patch('rep-main', { models: { [MC]: { price: credits } } })).status).toBe(200);
    expect((await listed('rep-main')).models[MC].price).toEqual(credits);
    expect(await estimate(5)).toMatchObject({ chosen: 'rep-main', estimate_usd: 0.2 });
    const t2 = await submit(5);
    expect(t2.provider).toBe('rep-main');
    expect(t2.usage).toMatchObject({ unit_price_usd: 0.04, reserved_usd: 0.2 });
    const done = await gw.settle(t2.id);
    expect(done.usage).toMatchObject({ charged_usd: 0.2, refunded_usd: 0 });
  });

  it('disabling one model on a provider takes it out of that model\'s candidates', async () => {
    gw = await start();
    const res = await patch('rep-main', { models: { [MC]: { enabled: false } } });
    expect(res.body.models[MC]).toMatchObject({ enabled: false, price: { per_second: CHEAP } });
    expect((await submit()).provider).toBe('fal-main');
  });

  it('refuses what does not fit, changing nothing', async () => {
    gw = await start();
    const before = await listed('fal-main');
    const auditBefore = (await auditLog()).data.length;

    const missing = await patch('nope', { enabled: false });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'not_found', param: 'id' });

    const badPrice = await patch('fal-main', { models: { [MC]: { price: { per_second: { '720p': -1, '1080p': 0.1 } } } } });
    expect(badPrice.status).toBe(400);
    expect(badPrice.body.error.code).toBe('invalid_parameter');
    expect(badPrice.body.error.param).toBe(`models.${MC}.price.per_second.720p`);

    const badCredit = await patch('fal-main', { models: { [MC]: { price: { per_request: 1, credit_usd: 0 } } } });
    expect(badCredit.status).toBe(400);
    expect(badCredit.body.error.param).toBe(`models.${MC}.price.credit_usd`);

    const cannotRun = await patch('fal-main', { enabled: false, models: { 'kling-custom-element': { enabled: true } } });
    expect(cannotRun.status).toBe(400);
    expect(cannotRun.body.error).toMatchObject({ code: 'invalid_parameter', param: 'models.kling-custom-element' });

    const unknownModel = await patch('fal-main', { models: { 'kling-v9': { enabled: true } } });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.error.param).toBe('models.kling-v9');

    const unknownField = await patch('fal-main', { enabled: false, weight: 3 });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error).toMatchObject({ code: 'unknown_field', param: 'weight' });

    const nestedUnknown = await patch('fal-main', { models: { [MC]: { enabeld: false } } });
    expect(nestedUnknown.body.error).toMatchObject({ code: 'unknown_field', param: `models.${MC}.enabeld` });

    const badType = await patch('fal-main', { priority: 1.5 });
    expect(badType.body.error).toMatchObject({ code: 'invalid_parameter', param: 'priority' });

    expect(await listed('fal-main')).toEqual(before);
    expect((await auditLog()).data).toHaveLength(auditBefore);
    expect((await gw.store.admin.overrides())).toEqual([]);
  });
});

describe('GET /admin/audit', () => {
  it('lists provider and key changes, newest first, with before/after and the request id', async () => {
    gw = await start();
    const res = await patch('rep-main', { enabled: false, priority: 2 });
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^req_/);

    const log = await auditLog();
    expect(log).toMatchObject({ object: 'list', has_more: false });
    const entry = log.data[0];
    expect(entry).toMatchObject({ action: 'provider.update', target: 'rep-main', request_id: requestId });
    expect(entry.at).toBe(Math.floor(gw.now() / 1000));
    expect(entry.before).toMatchObject({ id: 'rep-main', enabled: true, priority: 0 });
    expect(entry.after).toMatchObject({ id: 'rep-main', enabled: false, priority: 2 });
    expect(entry.after).toEqual(res.body);
    // startGateway created the test key: audited, without its secret.
    expect(log.data.at(-1)).toMatchObject({ action: 'key.create', before: null, after: { object: 'api_key', name: 'test' } });

    const key = await gw.createKey({ name: 'prepaid', balance_usd: 1 });
    await gw.call('POST', `/admin/keys/${key.id}/credit`, { body: { amount_usd: 2.5, note: 'top-up' }, key: ADMIN_KEY });
    await gw.call('PATCH', `/admin/keys/${key.id}`, { body: { name: 'renamed' }, key: ADMIN_KEY });
    await gw.call('DELETE', `/admin/keys/${key.id}`, { key: ADMIN_KEY });

    const all = await auditLog();
    expect(all.data.map((e: { action: string }) => e.action)).toEqual(['key.revoke', 'key.update', 'key.credit', 'key.create', 'provider.update', 'key.create']);
    const [revoke, update, credit, create] = all.data;
    expect(create).toMatchObject({ target: key.id, after: { id: key.id, balance_usd: 1 } });
    expect(credit).toMatchObject({ target: key.id, before: { balance_usd: 1 }, after: { balance_usd: 3.5, amount_usd: 2.5, note: 'top-up' } });
    expect(update).toMatchObject({ before: { name: 'prepaid' }, after: { name: 'renamed' } });
    expect(revoke).toMatchObject({ before: { revoked: false }, after: { revoked: true } });
    const text = JSON.stringify(all);
    expect(text).not.toContain(key.key);
    expect(text).not.toContain(key.webhook_secret);
    expect(text).not.toContain('key_hash');

    // Cursor pages.
    const page1 = await auditLog('?limit=2');
    expect(page1.data.map((e: { action: string }) => e.action)).toEqual(['key.revoke', 'key.update']);
    expect(page1.has_more).toBe(true);
    const page2 = await auditLog(`?limit=2&after=${page1.data[1].id}`);
    expect(page2.data.map((e: { action: string }) => e.action)).toEqual(['key.credit', 'key.create']);
    const bad = await gw.call('GET', '/admin/audit?limit=0', { key: ADMIN_KEY });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('limit');
    expect((await gw.call('GET', '/admin/audit')).status).toBe(403); // a client key
  });
});

describe('persistence', () => {
  it('a new runtime on the same database file and config starts with the overrides in force', async () => {
    gw = await start();
    const credits = { per_second: { '720p': 8, '1080p': 12 }, credit_usd: 0.005 };
    expect((await patch('rep-main', { enabled: false })).status).toBe(200);
    // A later change to the same provider merges with the earlier one.
    expect((await patch('rep-main', { priority: 3 })).status).toBe(200);
    expect((await patch('fal-main', { models: { [MC]: { price: credits } } })).status).toBe(200);
    const live = (await gw.call('GET', '/admin/providers', { key: ADMIN_KEY })).body;
    const apiKey = (await gw.createKey({ name: 'after-restart' })).key;

    // "Restart": the old runtime stops; a new one is built from the same config over the same file.
    await Promise.all([gw.runtime.poller.stop(), gw.runtime.callbacks.stop()]);
    const store = await openStore(gw.dbPath);
    try {
      const rt = await createRuntime({ config: gw.runtime.ctx.config, store, adminKey: ADMIN_KEY, now: gw.now, log: pino({ level: 'silent' }) });
      const rep = rt.ctx.providers.find((p) => p.id === 'rep-main')!;
      expect([rep.enabled, rep.priority]).toEqual([false, 3]);
      expect(rt.ctx.providers.find((p) => p.id === 'fal-main')!.models.get(MC)!.price.perUnit).toEqual({ '720p': 40_000, '1080p': 60_000 });

      const call = async (method: string, path: string, key: string, body?: unknown) => {
        const res = await rt.app.request(path, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      expect((await call('GET', '/admin/providers', ADMIN_KEY)).body).toEqual(live);
      const est = await call('POST', '/v1/videos/generations/estimate', apiKey, gw.motion(5));
      expect(est.status, JSON.stringify(est.body)).toBe(200);
      expect(est.body).toMatchObject({ chosen: 'fal-main', estimate_usd: 0.2 });
      expect(est.body.candidates[1]).toMatchObject({ provider: 'rep-main', eligible: false, reason: 'provider disabled' });
      await Promise.all([rt.poller.stop(), rt.callbacks.stop()]);
    } finally {
      await store.close();
    }
  });
});
