/**
 * Demo mode prints only keys the gateway generated itself (issue 8 #11): with REELROUTE_ADMIN_KEY
 * set and no config file, the banner names where the admin key comes from and never prints it.
 * A real gateway process (main.ts through tsx), waited on its output, bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const SECRET = 'rr_admin_operator_supplied_7f3a9c';
const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'reelroute-banner-'));
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('with REELROUTE_ADMIN_KEY set, the demo banner does not print it; the key still works', async () => {
  const { REELROUTE_CONFIG: _ignored, ...env } = process.env;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...env, REELROUTE_ADMIN_KEY: SECRET, REELROUTE_DB: join(dir, 'db.sqlite'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => void (out += d.toString()));
  const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 30 s:\n${out}`)), 30_000);
    const poll = setInterval(() => {
      if (/API key\s+rr_/.test(out) || child!.exitCode !== null) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
  });
  expect(out).toContain('DEMO MODE');
  expect(out).toMatch(/admin key\s+the admin key from REELROUTE_ADMIN_KEY/);
  expect(out).not.toContain(SECRET);
  // The operator's key is the admin key.
  const gateway = /gateway\s+(http:\/\/\S+)/.exec(out)![1]!;
  const res = await fetch(`${gateway}/admin/keys`, { headers: { authorization: `Bearer ${SECRET}` } });
  expect(res.status).toBe(200);
  child.kill('SIGTERM');
  await exited;
}, 40_000);
