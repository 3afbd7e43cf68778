/**
 * Crash drill in miniature: the real gateway process (npm start's entry) is SIGKILLed while a task
 * runs upstream, then restarted on the same SQLite file. The task must complete, be created
 * upstream once, and be charged once. Real processes need real time, so this test waits on the
 * process (bounded), not on a fake clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFalEmulator } from '../../providers/fal/emulator.ts';
import type { Emulator } from '../../providers/emulator-kit.ts';
import { openStore } from '../../src/db/store.ts';
import { expectLedgerInvariants, startMediaServer } from '../helpers/gateway.ts';

const ADMIN = 'rr_admin_crash_test';
let dir: string;
let emu: Emulator;
let media: Awaited<ReturnType<typeof startMediaServer>>;
const children = new Set<ChildProcess>();

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
  for (const c of children) c.kill('SIGKILL');
  await emu.close();
  await media.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Start `src/main.ts` as its own process; resolves with its URL once it listens. */
function startGatewayProcess(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, REELROUTE_CONFIG: join(dir, 'reelroute.yaml'), REELROUTE_DB: join(dir, 'gw.db'), REELROUTE_ADMIN_KEY: ADMIN, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not start in 20 s')), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('reelroute listening')) return;
      clearTimeout(timer);
      resolve({ url: (JSON.parse(line) as { url: string }).url, child });
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
}

async function api(url: string, method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const exited = (child: ChildProcess) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));

it('a SIGKILL mid-task loses nothing: completed once upstream, charged once', async () => {
  const first = await startGatewayProcess();
  const key = (await api(first.url, 'POST', '/admin/keys', ADMIN, { name: 'crash', balance_usd: 5 })).body;
  const submitted = await api(first.url, 'POST', '/v1/videos/generations', key.key, {
    model: 'kling-v3-motion-control',
    image_urls: [`${media.url}/img.png`],
    video_urls: [`${media.url}/v/5.mp4`],
  });
  expect(submitted.status).toBe(200);
  first.child.kill('SIGKILL');
  await exited(first.child);

  const second = await startGatewayProcess();
  let task: any;
  for (let i = 0; i < 100; i++) {
    task = (await api(second.url, 'GET', `/v1/tasks/${submitted.body.id}`, key.key)).body;
    if (task.status === 'completed' || task.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(task.status).toBe('completed');
  expect(task.usage).toMatchObject({ reserved_usd: 0.5, charged_usd: 0.5, refunded_usd: 0 });
  expect(emu.state.tasksCreated).toBe(1);
  second.child.kill('SIGTERM');
  await exited(second.child);

  const store = openStore(join(dir, 'gw.db'));
  try {
    const totals = store.ledger.totalsByTask([submitted.body.id]).get(submitted.body.id)!;
    expect(totals).toMatchObject({ hold: 500_000, charge: 500_000, refund: 0 });
    expectLedgerInvariants(store);
  } finally {
    await store.close();
  }
}, 60_000);
