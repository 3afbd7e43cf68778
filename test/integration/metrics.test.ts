/**
 * /metrics after a scripted run (CONTRACT §11): a completed task with a callback, one that fails
 * over, one cancelled, one under-billed and one still running. The Prometheus text is parsed with
 * a real parser and every contract family must carry the samples that run produced.
 */
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterEach, expect, it } from 'vitest';
import { listen, type RunningServer } from '../../providers/emulator-kit.ts';
import { expectLedgerInvariants, startGateway, type Gateway } from '../helpers/gateway.ts';
import { packagePath } from '../../src/paths.ts';

let gw: Gateway;
let hooks: RunningServer;
afterEach(async () => {
  await expectLedgerInvariants(gw.store);
  await gw.close();
  await hooks.close();
});

type Families = ReturnType<typeof parsePrometheus>;
// A name can come back as several runs of lines (histogram series interleave), so search them all.
const sample = (all: Families, name: string, labels: Record<string, string>) =>
  all
    .filter((f) => f.name === name)
    .flatMap((f) => f.metrics)
    .find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
const value = (all: Families, name: string, labels: Record<string, string> = {}) => Number(sample(all, name, labels)?.value ?? NaN);

it('every contract family is filled by a scripted run', async () => {
  const received: unknown[] = [];
  hooks = await listen(new Hono().post('/hook', async (c) => (received.push(await c.req.json()), c.text('ok'))));
  gw = await startGateway({
    providers: [
      { id: 'fal-main', type: 'fal', price: { '720p': 0.126, '1080p': 0.168 } },
      { id: 'rep-main', type: 'replicate', price: { '720p': 0.09, '1080p': 0.15 } },
    ],
    config: { routing: { max_attempts: 3, breaker_failures: 1, breaker_cooldown_ms: 600_000 } },
  });
  // 1. Completes on rep-main, produces 7 s for a 5 s hold (under-billed), calls back.
  gw.emulators['rep-main']!.state.outputDurationS = 7;
  const first = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { callback_url: `${hooks.url}/hook` }) });
  expect((await gw.settle(first.body.id)).status).toBe('completed');
  await gw.runtime.callbacks.runDue();
  expect(received).toHaveLength(1);
  // 2. rep-main answers 503: fails over to fal-main (and rep-main's circuit opens).
  gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
  gw.emulators['fal-main']!.state.outputDurationS = 5;
  const second = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect(second.body.provider).toBe('fal-main');
  expect((await gw.settle(second.body.id)).status).toBe('completed');
  // 3. Cancelled; 4. left running.
  const third = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5) });
  expect((await gw.call('POST', `/v1/tasks/${third.body.id}/cancel`)).status).toBe(200);
  const fourth = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(4) });
  expect(fourth.status).toBe(200);
  gw.advance(60_000); // the running task's next poll is now overdue

  const res = await fetch(`${gw.url}/metrics`);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  // The parser folds a labelled histogram into one series, so histograms are read as their plain
  // _bucket/_count/_sum series (still checked to be declared as histograms).
  expect(text).toContain('# TYPE reelroute_upstream_request_seconds histogram');
  const m = parsePrometheus(text.replace(/^(# TYPE \S+) histogram$/gm, '$1 untyped'));
  const model = 'kling-v3-motion-control';

  // Counted under the first provider chosen; after rep-main's circuit opened, fal-main is first.
  expect(value(m, 'reelroute_tasks_created_total', { model, provider: 'rep-main' })).toBe(2);
  expect(value(m, 'reelroute_tasks_created_total', { model, provider: 'fal-main' })).toBe(2);
  expect(value(m, 'reelroute_tasks_ended_total', { model, provider: 'rep-main', status: 'completed' })).toBe(1);
  expect(value(m, 'reelroute_tasks_ended_total', { model, provider: 'fal-main', status: 'completed' })).toBe(1);
  expect(value(m, 'reelroute_tasks_ended_total', { status: 'cancelled' })).toBe(1);
  expect(value(m, 'reelroute_failovers_total', { from: 'rep-main', to: 'fal-main' })).toBe(1);

  const held = value(m, 'reelroute_money_micros_total', { kind: 'held' });
  const charged = value(m, 'reelroute_money_micros_total', { kind: 'charged' });
  const refunded = value(m, 'reelroute_money_micros_total', { kind: 'refunded' });
  const running = (await gw.store.tasks.get(fourth.body.id))!.reservedMicros;
  expect(charged).toBe(450_000 + 630_000);
  expect(held).toBe(charged + refunded + running);
  expect(value(m, 'reelroute_underbilled_micros_total')).toBe(2 * 90_000);

  expect(value(m, 'reelroute_upstream_requests_total', { provider: 'rep-main', op: 'create', outcome: 'error' })).toBe(1);
  expect(value(m, 'reelroute_upstream_requests_total', { provider: 'rep-main', op: 'status', outcome: 'ok' })).toBeGreaterThan(0);
  expect(value(m, 'reelroute_upstream_requests_total', { provider: 'fal-main', op: 'create', outcome: 'ok' })).toBe(3);
  expect(value(m, 'reelroute_upstream_errors_total', { provider: 'rep-main', kind: 'unavailable' })).toBe(1);
  expect(value(m, 'reelroute_upstream_request_seconds_count', { provider: 'fal-main', op: 'create' })).toBe(3);
  expect(value(m, 'reelroute_circuit_state', { provider: 'rep-main', model })).toBe(2);
  expect(value(m, 'reelroute_circuit_state', { provider: 'fal-main', model })).toBe(0);
  expect(value(m, 'reelroute_callback_deliveries_total', { outcome: 'delivered' })).toBe(1);
  expect(value(m, 'reelroute_tasks_in_flight', { provider: 'fal-main' })).toBe(1);
  expect(value(m, 'reelroute_poller_lag_seconds')).toBeGreaterThan(0);
  expect(value(m, 'reelroute_http_requests_total', { method: 'POST', route: '/v1/videos/generations', status: '200' })).toBe(4);

  // The Grafana dashboard is built on exactly these series: every one it queries is exported.
  const dashboard = readFileSync(packagePath('docs/grafana-dashboard.json'), 'utf8');
  const queried = new Set([...dashboard.matchAll(/reelroute_[a-z_]+/g)].map((x) => x[0].replace(/_bucket$/, '')));
  expect(queried.size).toBeGreaterThanOrEqual(12);
  for (const name of queried) expect(text, name).toContain(`# TYPE ${name} `);
});
