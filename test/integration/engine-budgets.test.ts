/**
 * Budgets across UTC midnight and month end (issue 8 #1), on the injected clock: a budget counts
 * each task in the period it was created; a refund or a failover's extra hold stays in that period.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';

const DAY_MS = 86_400_000;
let gw: Gateway;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
});

/** Move the test clock forward to `at` (ms). */
function advanceTo(at: number): void {
  expect(at).toBeGreaterThanOrEqual(gw.now());
  gw.advance(at - gw.now());
}

const nextMidnight = (now: number) => now - (now % DAY_MS) + DAY_MS;
const nextMonthStart = (now: number) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

async function create(key: string, seconds: number) {
  return gw.call('POST', '/v1/videos/generations', { body: gw.motion(seconds), key });
}

describe('budgets across period boundaries', () => {
  it('a hold from 23:59 cancelled at 00:01 gives back yesterday, not today (daily, and monthly at a month end)', async () => {
    // Upstream tasks run 10 min, so the 23:59 tasks can still be cancelled at 00:01.
    gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 }, emulator: { runMs: 600_000 } }] });
    const daily = await gw.createKey({ name: 'daily', daily_budget_usd: 1 });
    const monthly = await gw.createKey({ name: 'monthly', monthly_budget_usd: 1.5 });

    // The last minute of a month is also the last minute of a day: both keys hold $1 at 23:59.
    const boundary = nextMonthStart(gw.now());
    advanceTo(boundary - 60_000);
    const lateDaily = await create(daily.key, 10);
    const lateMonthly = await create(monthly.key, 10);
    expect([lateDaily.status, lateMonthly.status]).toEqual([200, 200]);

    advanceTo(boundary + 60_000); // 00:01 UTC on the 1st
    for (const t of [lateDaily, lateMonthly]) {
      expect((await gw.call('POST', `/v1/tasks/${t.body.id}/cancel`, { key: t === lateDaily ? daily.key : monthly.key })).status).toBe(200);
    }

    // Today's budget is untouched by yesterday's refund: one $1 task fits, a second does not.
    expect((await create(daily.key, 10)).status).toBe(200);
    const overDaily = await create(daily.key, 10);
    expect(overDaily.status).toBe(402);
    expect(overDaily.body.error.code).toBe('budget_exceeded');

    expect((await create(monthly.key, 10)).status).toBe(200);
    const overMonthly = await create(monthly.key, 10);
    expect(overMonthly.status).toBe(402);
    expect(overMonthly.body.error.message).toMatch(/monthly budget/);

    // A day later the daily key has a fresh day; its refunded 23:59 task never counted anywhere.
    advanceTo(nextMidnight(gw.now()) + 1_000);
    expect((await create(daily.key, 10)).status).toBe(200);
  });

  it("a failover's extra hold counts in the day its task was created", async () => {
    gw = await startGateway({
      providers: [
        { id: 'fal-cheap', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } },
        { id: 'kie-dear', type: 'kie', price: { '720p': 0.2, '1080p': 0.4 } },
      ],
    });
    const { key } = await gw.createKey({ name: 'daily', daily_budget_usd: 1.3 });
    const midnight = nextMidnight(gw.now());
    advanceTo(midnight - 60_000);
    gw.emulators['fal-cheap']!.state.fates.push({ outcome: 'fail', code: 'gpu_lost', message: 'worker died', providerSide: true });
    const late = await create(key, 5); // $0.50 held yesterday
    expect(late.status).toBe(200);

    advanceTo(midnight + 60_000);
    await gw.runtime.poller.runDue(); // fails over to the dearer provider: $0.50 more, on yesterday's budget
    const moved = await gw.call('GET', `/v1/tasks/${late.body.id}`, { key });
    expect(moved.body.attempts.map((a: { provider: string }) => a.provider)).toEqual(['fal-cheap', 'kie-dear']);
    expect(moved.body.usage.reserved_usd).toBe(1);

    // Today: $0.50 + $0.50 fit in $1.30; a third does not.
    expect((await create(key, 5)).status).toBe(200);
    expect((await create(key, 5)).status).toBe(200);
    expect((await create(key, 5)).status).toBe(402);
  });
});
