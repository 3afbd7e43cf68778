/** Holds, charges and refunds over real HTTP: balances, cancel, duration-based quotes. */
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

const PRICE = { '720p': 0.1, '1080p': 0.2 };
let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

async function oneProvider(): Promise<Gateway> {
  return startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }] });
}

describe('money', () => {
  it('a prepaid key is refused with 402 when its balance does not cover the hold', async () => {
    gw = await oneProvider();
    const { key } = await gw.createKey({ name: 'prepaid', balance_usd: 1 });
    const ok = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(6), key }); // $0.60
    expect(ok.status).toBe(200);
    const refused = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(6), key }); // $0.40 left
    expect(refused.status).toBe(402);
    expect(refused.body.error).toMatchObject({ code: 'insufficient_balance', type: 'insufficient_quota' });
    expect(gw.emulators['fal-main']!.state.createsReceived).toBe(1);
    const keys = await gw.call('GET', '/admin/keys', { key: ADMIN_KEY });
    expect(keys.body.data.find((k: { name: string }) => k.name === 'prepaid').balance_usd).toBe(0.4);
  });

  it('credits a prepaid key and refunds unproduced seconds to its balance', async () => {
    gw = await oneProvider();
    const created = await gw.createKey({ name: 'prepaid', balance_usd: 0.5 });
    const credit = await gw.call('POST', `/admin/keys/${created.id}/credit`, { body: { amount_usd: 0.5, note: 'top-up' }, key: ADMIN_KEY });
    expect(credit.body.balance_usd).toBe(1);
    gw.emulators['fal-main']!.state.outputDurationS = 4;
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(6), key: created.key });
    const done = await gw.settle(res.body.id, created.key);
    expect(done.usage).toMatchObject({ reserved_usd: 0.6, charged_usd: 0.4, refunded_usd: 0.2 });
    const keys = await gw.call('GET', '/admin/keys', { key: ADMIN_KEY });
    expect(keys.body.data.find((k: { id: string }) => k.id === created.id).balance_usd).toBe(0.6);
  });

  it('a daily budget answers 402 budget_exceeded', async () => {
    gw = await oneProvider();
    const { key } = await gw.createKey({ name: 'budgeted', daily_budget_usd: 0.7 });
    expect((await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key })).status).toBe(200);
    const refused = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key });
    expect(refused.status).toBe(402);
    expect(refused.body.error.code).toBe('budget_exceeded');
  });

  it('cancel stops the upstream task and refunds the whole hold', async () => {
    gw = await oneProvider();
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
    expect(res.body.task_info.can_cancel).toBe(true);
    const cancelled = await gw.call('POST', `/v1/tasks/${res.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', usage: { charged_usd: 0, refunded_usd: 0.5 }, task_info: { can_cancel: false } });
    expect(gw.emulators['fal-main']!.state.cancels).toBe(1);
    const again = await gw.call('POST', `/v1/tasks/${res.body.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('task_not_cancellable');
  });

  it('a reference video over the orientation limit is a 400 before anything is sent upstream', async () => {
    gw = await oneProvider();
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(12) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'video_duration_out_of_range', param: 'video_urls[0]' });
    // With orientation `video` the same clip is within 3–30 s.
    const ok = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(12, { model_params: { character_orientation: 'video' } }) });
    expect(ok.status).toBe(200);
    expect(ok.body.usage.billable_units).toBe(12);
    expect(gw.emulators['fal-main']!.state.createsReceived).toBe(1);
  });

  it('rounds the billable seconds to the nearest second and reads moov at the end', async () => {
    gw = await oneProvider();
    const res = await gw.call('POST', '/v1/videos/generations', {
      body: { ...gw.motion(), video_urls: [`${gw.media.url}/moov-end/7.6.mp4`] },
    });
    expect(res.body.usage.billable_units).toBe(8);
  });

  it('an unreadable container holds the maximum and charges the produced seconds', async () => {
    gw = await oneProvider();
    gw.emulators['fal-main']!.state.outputDurationS = 6;
    const res = await gw.call('POST', '/v1/videos/generations', { body: { ...gw.motion(), video_urls: [`${gw.media.url}/garbage.mp4`] } });
    expect(res.status).toBe(200);
    expect(res.body.usage).toMatchObject({ billable_units: 10, reserved_usd: 1 });
    const done = await gw.settle(res.body.id);
    expect(done.usage).toMatchObject({ charged_usd: 0.6, refunded_usd: 0.4 });
  });

  it('list prices fix what keys pay whichever provider runs the task', async () => {
    gw = await startGateway({
      providers: [{ id: 'fal-main', type: 'fal', price: PRICE }],
      config: { billing: { models: { 'kling-v3-motion-control': { per_second: { '720p': 0.1134, '1080p': 0.1512 } } } } },
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(7, { quality: '1080p' }) });
    expect(res.body.usage).toMatchObject({ unit_price_usd: 0.1512, reserved_usd: 1.0584 });
    const done = await gw.settle(res.body.id);
    expect(done.usage.charged_usd).toBe(0.756); // 5 s produced × $0.1512
  });

  it('credits in the price table are converted with credit_usd', async () => {
    gw = await startGateway({
      providers: [{ id: 'kie-main', type: 'kie', priceSpec: { per_second: { '720p': 11, '1080p': 18 }, credit_usd: 0.005 } }],
    });
    const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(4) });
    expect(res.body.usage).toMatchObject({ unit_price_usd: 0.055, reserved_usd: 0.22 });
  });
});
