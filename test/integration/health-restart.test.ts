/**
 * Learned health survives a restart: completion times (and so the ETA given to new tasks), the
 * success rate and an open circuit with its next probe time are read back from the database by a
 * second gateway on the same SQLite file, as after a process restart.
 */
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { listen } from '../../providers/emulator-kit.ts';
import { openStore } from '../../src/db/store.ts';
import { createRuntime } from '../../src/runtime.ts';
import { ADMIN_KEY, startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
afterEach(async () => {
  await gw.close();
});

it('a restart keeps p50/p95, success rate, the circuit and the ETA of new tasks', async () => {
  gw = await startGateway({
    providers: [
      { id: 'fal-main', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 }, emulator: { runMs: 7_000 } },
      { id: 'rep-main', type: 'replicate', price: { '720p': 0.12, '1080p': 0.2 } },
    ],
    config: { routing: { max_attempts: 3, breaker_failures: 1, breaker_cooldown_ms: 600_000 } },
  });
  const key = await gw.createKey({ name: 'restart' });
  const first = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key: key.key });
  expect(first.body.task_info.estimated_time).toBe(300); // the constant: nothing learned yet
  expect((await gw.settle(first.body.id, key.key)).status).toBe('completed');
  gw.emulators['rep-main']!.state.submitFaults.push({ kind: 'status', status: 503 });
  const routed = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5, { route: { only: ['rep-main'] } }), key: key.key });
  expect(routed.status).toBe(503);

  const before = (await gw.call('GET', '/admin/providers', { key: ADMIN_KEY })).body.data;
  const falBefore = before.find((p: { id: string }) => p.id === 'fal-main').models['kling-v3-motion-control'].health;
  expect(falBefore.p50_completion_s).toBeGreaterThanOrEqual(7);
  expect(falBefore).toMatchObject({ state: 'closed', success_rate: 1, completions: 1 });
  const repBefore = before.find((p: { id: string }) => p.id === 'rep-main').health;
  expect(repBefore.state).toBe('open');

  // What the process does on shutdown, then a new gateway on the same database file.
  await gw.runtime.ctx.health.close();
  const store = await openStore(gw.dbPath);
  const runtime = await createRuntime({ config: gw.runtime.ctx.config, store, adminKey: ADMIN_KEY, now: gw.now, log: pino({ level: 'silent' }) });
  const server = await listen(runtime.app);
  try {
    const res = await fetch(`${server.url}/admin/providers`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const after = ((await res.json()) as { data: any[] }).data;
    expect(after.find((p) => p.id === 'fal-main').models['kling-v3-motion-control'].health).toEqual(falBefore);
    expect(after.find((p) => p.id === 'rep-main').health).toMatchObject({ state: 'open', consecutive_failures: 1, next_probe_at: repBefore.open_until });
    const created = await fetch(`${server.url}/v1/videos/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(gw.motion(5)),
    });
    const task = (await created.json()) as { provider: string; task_info: { estimated_time: number } };
    expect(task.provider).toBe('fal-main');
    expect(task.task_info.estimated_time).toBe(Math.round(falBefore.p50_completion_s));
  } finally {
    await runtime.poller.stop();
    await server.close();
    await runtime.ctx.health.close();
    await store.close();
  }
});
