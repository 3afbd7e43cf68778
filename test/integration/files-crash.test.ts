/**
 * Crash drill for files: the real gateway process is SIGKILLed mid-upload and mid-mirror, then
 * restarted on the same database and files folder. No half file may become visible, and the mirror
 * must resume so the task completes with working result URLs. Real processes need real time, so
 * this waits on them (bounded), not on a fake clock.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFalEmulator } from '../../providers/fal/emulator.ts';
import type { Emulator } from '../../providers/emulator-kit.ts';
import { startMediaServer } from '../helpers/gateway.ts';
import { callGateway as api, killGatewayProcesses, processExited, spawnGatewayProcess, waitForTaskEnd } from '../helpers/gateway-process.ts';
import { MP4 } from './files-fixtures.ts';

const ADMIN = 'rr_admin_files_crash';
let dir: string;
let port: number;
let emu: Emulator;
let media: Awaited<ReturnType<typeof startMediaServer>>;
let relay: Server;
/** Resolved when the gateway first asks the relay for an output file (it is mid-mirror then). */
let mirrorStarted: () => void = () => undefined;
let holdOutputs = true;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-files-crash-'));
  emu = await startFalEmulator({ queueMs: 200, runMs: 1_000, credentials: { apiKey: 'fal-key' }, outputDurationS: 5 });
  media = await startMediaServer();
  // The upstream as the gateway sees it: the emulator (which names output URLs after the Host it was
  // asked on, so here the relay's), except that output files hang while held.
  relay = createServer((req, res) => {
    const forward = () => {
      const up = httpRequest(new URL(req.url!, emu.url), { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (req.url?.startsWith('/__files/') && holdOutputs) {
      mirrorStarted();
      return; // never answered: the process is killed while it waits
    }
    forward();
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  // A fixed port, so public_base_url can name it before the gateway starts.
  port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  writeFileSync(
    join(dir, 'reelroute.yaml'),
    JSON.stringify({
      server: { public_base_url: `http://127.0.0.1:${port}` },
      callbacks: { allow_insecure: true },
      polling: { initial_ms: 200, max_ms: 400 },
      files: { max_bytes: 50_000_000 },
      providers: [{ id: 'fal-main', type: 'fal', base_url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, api_key: 'fal-key', models: { 'kling-v3-motion-control': { price: { per_second: { '720p': 0.1, '1080p': 0.2 } } } } }],
    }),
  );
});

afterAll(async () => {
  killGatewayProcesses();
  relay.closeAllConnections();
  relay.close();
  await emu.close();
  await media.close();
  rmSync(dir, { recursive: true, force: true });
});

const killed = (child: ChildProcess) => {
  child.kill('SIGKILL');
  return processExited(child);
};
const filesDir = () => join(dir, 'files');
const blobs = () => readdirSync(join(filesDir(), 'blobs')).flatMap((d) => readdirSync(join(filesDir(), 'blobs', d)));

it('SIGKILL mid-upload leaves no visible file; SIGKILL mid-mirror resumes; the completed task has working result URLs', async () => {
  const first = await spawnGatewayProcess({ dir, adminKey: ADMIN, port });
  const key = (await api(first.url, 'POST', '/admin/keys', ADMIN, { name: 'crash' })).body.key as string;

  // 1. Kill mid-upload: bytes are on their way into a temp file.
  const req = httpRequest(`${first.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'multipart/form-data; boundary=zz', 'transfer-encoding': 'chunked' } });
  req.on('error', () => undefined);
  req.write('--zz\r\ncontent-disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n');
  req.write(MP4(5));
  req.write(Buffer.alloc(1_000_000));
  for (let i = 0; i < 100 && readdirSync(join(filesDir(), 'tmp')).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(readdirSync(join(filesDir(), 'tmp'))).toHaveLength(1);

  // 2. A task whose output the gateway starts mirroring, then dies.
  const started = new Promise<void>((r) => (mirrorStarted = r));
  const submitted = await api(first.url, 'POST', '/v1/videos/generations', key, { model: 'kling-v3-motion-control', image_urls: [`${media.url}/img.png`], video_urls: [`${media.url}/v/5.mp4`] });
  expect(submitted.status).toBe(200);
  await started;
  expect((await api(first.url, 'GET', `/v1/tasks/${submitted.body.id}`, key)).body.status).not.toBe('completed');
  await killed(first.child);
  req.destroy();

  // Restarted: the half upload is gone and was never a file; the mirror resumes and completes the task.
  holdOutputs = false;
  const second = await spawnGatewayProcess({ dir, adminKey: ADMIN, port });
  expect(readdirSync(join(filesDir(), 'tmp'))).toEqual([]);
  const task = await waitForTaskEnd(second.url, submitted.body.id, key);
  expect(task.status).toBe('completed');
  expect(task.results[0]).toMatch(new RegExp(`^http://127.0.0.1:${port}/files/`));
  expect(task.usage).toMatchObject({ reserved_usd: 0.5, charged_usd: 0.5 });
  expect(emu.state.tasksCreated).toBe(1);
  const served = await fetch(task.results[0]);
  expect(served.status).toBe(200);
  expect(served.headers.get('content-type')).toBe('video/mp4');
  await served.arrayBuffer();
  const listed = (await api(second.url, 'GET', '/v1/files', key)).body.data;
  expect(listed.map((f: { purpose: string }) => f.purpose)).toEqual(['output']);
  // One blob: the pinned video and the output are the same synthetic 5 s clip, kept once (the
  // 4-byte test image is no PNG the store takes, so it was not pinned).
  expect(blobs()).toHaveLength(1);
  await killed(second.child);
}, 60_000);
