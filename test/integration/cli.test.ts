/**
 * The `reelroute` CLI driving a real gateway process over HTTP: keys, spend, providers, tasks and
 * reconcile; clean JSON/CSV when piped, tables when asked, API errors on stderr with a non-zero
 * exit. The commands run the CLI compiled once (as `npm run build` does), so each spawn is cheap;
 * one runs through bin/reelroute.js, as `npx reelroute` does. Real processes need real time: waits
 * are bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFalEmulator } from '../../providers/fal/emulator.ts';
import { startKieEmulator } from '../../providers/kie/emulator.ts';
import type { Emulator } from '../../providers/emulator-kit.ts';
import { startMediaServer } from '../helpers/gateway.ts';
import { killGatewayProcesses, spawnGatewayProcess } from '../helpers/gateway-process.ts';

const ADMIN = 'rr_admin_cli_test';
let dir: string;
let fal: Emulator;
let kie: Emulator;
let media: Awaited<ReturnType<typeof startMediaServer>>;
let gateway: ChildProcess;
let url = '';
/** The CLI bundled for this run, under node_modules so its packages resolve. */
const CLI_JS = join('node_modules', '.cache', `reelroute-cli-test-${process.pid}`, 'cli.js');
const today = new Date().toISOString().slice(0, 10);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI as a user would (global flags before the command); stdout is a pipe. */
function cli(args: string[], adminKey = ADMIN, entry = CLI_JS): Promise<Ran> {
  const child = spawn(process.execPath, [entry, '--url', url, '--admin-key', adminKey, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout;
}
const okJson = async (args: string[]) => JSON.parse(await ok(args));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-cli-'));
  const { build } = await import('esbuild');
  await build({ entryPoints: ['src/cli/main.ts'], outfile: CLI_JS, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
  fal = await startFalEmulator({ queueMs: 100, runMs: 400, credentials: { apiKey: 'fal-key' }, outputDurationS: 5 });
  kie = await startKieEmulator({ queueMs: 100, runMs: 400, credentials: { apiKey: 'kie-key' }, outputDurationS: 5 });
  media = await startMediaServer();
  writeFileSync(
    join(dir, 'reelroute.yaml'),
    JSON.stringify({
      callbacks: { allow_insecure: true },
      polling: { initial_ms: 100, max_ms: 200 },
      providers: [
        { id: 'fal-1', type: 'fal', base_url: fal.url, api_key: 'fal-key', models: { 'kling-v3-motion-control': { price: { per_second: { '720p': 0.126, '1080p': 0.168 } } } } },
        { id: 'kie-1', type: 'kie', base_url: kie.url, api_key: 'kie-key', priority: 1 },
      ],
    }),
  );
  ({ url, child: gateway } = await spawnGatewayProcess({ dir, adminKey: ADMIN }));
}, 30_000);

afterAll(async () => {
  if (gateway && gateway.exitCode === null) {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
  }
  killGatewayProcesses(); // a gateway whose start timed out is still running
  await Promise.all([fal?.close(), kie?.close(), media?.close()]);
  rmSync(dir, { recursive: true, force: true });
  rmSync(dirname(CLI_JS), { recursive: true, force: true });
});

describe('reelroute CLI against a gateway process', () => {
  let key: { id: string; key: string; webhook_secret: string };
  let taskId = '';

  it('keys: create (key and secret shown once), list as CSV, credit', async () => {
    key = await okJson(['keys', 'create', '--name', 'cli-studio', '--balance', '5', '--daily-budget', '20']);
    expect(key).toMatchObject({ name: 'cli-studio', balance_usd: 5, daily_budget_usd: 20 });
    expect(key.key).toMatch(/^rr_/);
    expect(key.webhook_secret).toMatch(/^whsec_/);
    const csv = await ok(['keys', 'list', '--format', 'csv']);
    const [header, ...lines] = csv.trim().split('\r\n');
    expect(header).toBe('id,name,prefix,balance_usd,daily_budget_usd,monthly_budget_usd,created,revoked');
    expect(lines.find((l) => l.startsWith(`${key.id},cli-studio,`))).toContain(',5.00,20.00,,');
    expect(await okJson(['keys', 'credit', key.id, '2.5'])).toMatchObject({ id: key.id, balance_usd: 7.5 });
  });

  it('tasks: list and show a finished task with its ledger', async () => {
    const res = await fetch(`${url}/v1/videos/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kling-v3-motion-control', image_urls: [`${media.url}/img.png`], video_urls: [`${media.url}/v/5.mp4`] }),
    });
    taskId = ((await res.json()) as { id: string }).id;
    let status = '';
    for (let i = 0; i < 100 && status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = ((await (await fetch(`${url}/v1/tasks/${taskId}`, { headers: { authorization: `Bearer ${key.key}` } })).json()) as { status: string }).status;
    }
    expect(status).toBe('completed');
    const list = await okJson(['tasks', 'list', '--key', key.id, '--status', 'completed']);
    expect(list.data.map((t: { id: string }) => t.id)).toEqual([taskId]);
    const shown = await okJson(['tasks', 'show', taskId]);
    expect(shown).toMatchObject({ key_id: key.id, provider: 'fal-1', upstream_cost_usd: 0.63, usage: { charged_usd: 0.63 } });
    expect(shown.ledger.map((l: { kind: string }) => l.kind)).toEqual(['hold', 'charge']);
    const table = await ok(['tasks', 'show', taskId, '--format', 'table']);
    expect(table).toContain('Ledger');
    expect(table).toMatch(/hold\s*│\s*0\.63/);
  });

  it('spend: piped CSV is the API export, byte for byte; JSON and table on request', async () => {
    const csv = await ok(['spend', '--from', today, '--to', today, '--group-by', 'day,provider']);
    const api = await fetch(`${url}/admin/spend?from=${today}&to=${today}&group_by=day,provider&format=csv`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(csv).toBe(await api.text());
    expect(csv.split('\r\n')[1]).toBe(`${today},fal-1,1,1,0,0,5,0.63,0.63,0,0.63,0`);
    const json = await okJson(['spend', '--from', today, '--to', today, '--format', 'json']);
    expect(json.totals).toMatchObject({ tasks: 1, charged_usd: 0.63, margin_usd: 0 });
    expect(await ok(['spend', '--from', today, '--to', today, '--group-by', 'provider', '--format', 'table'])).toMatch(/total/);
  });

  it('providers: list, disable, priority, enable — live and audited', async () => {
    const list = await okJson(['providers', 'list']);
    expect(list.data.map((p: { id: string }) => p.id)).toEqual(['fal-1', 'kie-1']);
    expect(await okJson(['providers', 'disable', 'fal-1'])).toMatchObject({ id: 'fal-1', enabled: false });
    expect(await okJson(['providers', 'priority', 'fal-1', '3'])).toMatchObject({ id: 'fal-1', priority: 3 });
    expect(await okJson(['providers', 'enable', 'fal-1'])).toMatchObject({ id: 'fal-1', enabled: true, priority: 3 });
  });

  it("reconcile: the emulators' statements (USD and credits) agree with what reelroute recorded", async () => {
    const falFile = join(dir, 'fal.csv');
    writeFileSync(falFile, await (await fetch(`${fal.url}/__emulator/statement?from=${today}&to=${today}`)).text());
    const r = await okJson(['reconcile', '--provider', 'fal-1', '--file', falFile, '--from', today, '--to', today]);
    expect(r).toMatchObject({ provider: 'fal-1', matched: 1, ours_total_usd: 0.63, theirs_total_usd: 0.63, difference_usd: 0, mismatched: [], missing_from_statement: [], unknown_to_us: [] });
    // kie bills in credits: the header says so and the CLI reads amount_credits without being told.
    const kieFile = join(dir, 'kie.csv');
    writeFileSync(kieFile, await (await fetch(`${kie.url}/__emulator/statement?from=${today}&to=${today}`)).text());
    expect(await okJson(['reconcile', '--provider', 'kie-1', '--file', kieFile, '--from', today, '--to', today])).toMatchObject({ matched: 0, difference_usd: 0 });
  });

  it('errors: the API message on stderr, nothing on stdout, a non-zero exit', async () => {
    const [missing, wrongKey, badDay, usage] = await Promise.all([
      cli(['keys', 'revoke', 'key_nope']),
      cli(['keys', 'list'], 'rr_wrong'),
      cli(['spend', '--from', '2026-02-30']),
      cli(['providers', 'priority', 'fal-1', 'high']),
    ]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toMatch(/no key key_nope \(not_found\)/);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/invalid admin key/);
    expect(badDay.code).toBe(1);
    expect(badDay.stderr).toMatch(/from: expected a UTC date/);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/expected an integer/);
  });

  it('bin/reelroute.js (what npx reelroute runs) starts the CLI under plain node', async () => {
    const r = await cli(['providers', 'list', '--format', 'csv'], ADMIN, 'bin/reelroute.js');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\r\n')[0]).toBe('id,type,enabled,priority,state,success_rate,p50_completion_s,models');
  });

  it('keys revoke: the key is refused from then on', async () => {
    expect(await okJson(['keys', 'revoke', key.id])).toMatchObject({ id: key.id, revoked: true });
    const res = await fetch(`${url}/v1/tasks`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(res.status).toBe(401);
  });
});
