/**
 * Crash drill in miniature: the real gateway process (npm start's entry) is SIGKILLed while a task
 * runs upstream, then restarted on the same SQLite file. The task must complete, be created
 * upstream once, and be charged once. Real processes need real time, so this test waits on the
 * process (bounded), not on a fake clock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFalEmulator } from '../../providers/fal/emulator.ts';
import type { Emulator } from '../../providers/emulator-kit.ts';
import { openStore } from '../../src/db/store.ts';
import { expectLedgerInvariants, startMediaServer } from '../helpers/gateway.ts';
import { callGateway as api, killGatewayProcesses, processExited, spawnGatewayProcess, waitForTaskEnd } from '../helpers/gateway-process.ts';

const ADMIN = 'rr_admin_crash_test';
let dir: string;
let emu: Emulator;
let media: Awaited<ReturnType<typeof startMediaServer>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-crash-'));
  emu = await startFalEmulator({ queueMs: 200, runMs: 3_000, credentials: { apiKey: 'fal-key' }, outputDurationS: 5 });
  media = await startMediaServer();
  writeFileSync(
    join(dir, 'reelroute.yaml'),
    JSON.stringify({
      callbacks: { allow_insecure: true },
      polling: { initial_ms: 200, max_ms: 400 },
      providers: [{ id: 'fal-main', type: 'fal', base_url: emu.url, api_key: 'fal-key', models: { 'kling-v3-motion-control': { price: { per_second: { '720p': 0.1, '1080p': 0.2 } } } } }],
    }),
  );
});

afterAll(async () => {
  killGatewayProcesses();
  await emu.close();
  await media.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a SIGKILL mid-task loses nothing: completed once upstream, charged once', async () => {
  const first = await spawnGatewayProcess({ dir, adminKey: ADMIN });
  const key = (await api(first.url, 'POST', '/admin/keys', ADMIN, { name: 'crash', balance_usd: 5 })).body;
  const submitted = await api(first.url, 'POST', '/v1/videos/generations', key.key, {
    model: 'kling-v3-motion-control',
    image_urls: [`${media.url}/img.png`],
    video_urls: [`${media.url}/v/5.mp4`],
  });
  expect(submitted.status).toBe(200);
  first.child.kill('SIGKILL');
  await processExited(first.child);

  const second = await spawnGatewayProcess({ dir, adminKey: ADMIN });
  const task = await waitForTaskEnd(second.url, submitted.body.id, key.key);
  expect(task.status).toBe('completed');
  expect(task.usage).toMatchObject({ reserved_usd: 0.5, charged_usd: 0.5, refunded_usd: 0 });
  expect(emu.state.tasksCreated).toBe(1);
  second.child.kill('SIGTERM');
  await processExited(second.child);

  const store = await openStore(join(dir, 'gw.db'));
  try {
    const totals = (await store.ledger.totalsByTask([submitted.body.id])).get(submitted.body.id)!;
    expect(totals).toMatchObject({ hold: 500_000, charge: 500_000, refund: 0 });
    await expectLedgerInvariants(store);
  } finally {
    await store.close();
  }
}, 60_000);
