/**
 * Production start (CONTRACT §11): `npm start` runs compiled JavaScript under plain node, and a
 * SIGTERM sent to the npm process itself — what a process manager does — stops the gateway
 * gracefully: the listener closes, a request already in flight still gets its answer, the
 * database is closed cleanly (its WAL checkpointed away), exit 0. A second signal exits at once.
 * Real processes need real time: waits are on process output, bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.ts';

const ADMIN = 'rr_admin_signal_test';
let dir: string;
const children = new Set<ChildProcess>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-signal-'));
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Started {
  npm: ChildProcess;
  port: number;
  /** Resolves when a log line containing `text` appears. */
  waitFor(text: string): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start` in demo mode on a free port with its own database. */
async function npmStart(db: string): Promise<Started> {
  const { REELROUTE_CONFIG: _ignored, ...env } = process.env;
  const npm = spawn('npm', ['start'], {
    cwd: packageRoot,
    env: { ...env, REELROUTE_DB: db, REELROUTE_ADMIN_KEY: ADMIN, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(npm);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once('exit', (code, signal) => {
      children.delete(npm);
      resolve({ code, signal });
    }),
  );
  const lines: string[] = [];
  const waiters: { text: string; resolve: (line: string) => void }[] = [];
  createInterface({ input: npm.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.filter((w) => line.includes(w.text))) w.resolve(line);
  });
  let stderr = '';
  npm.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const waitFor = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => l.includes(text));
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no "${text}" in 20 s; stderr: ${stderr}`)), 20_000);
      waiters.push({ text, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  const listening = JSON.parse(await waitFor('reelroute listening')) as { url: string };
  return { npm, port: Number(new URL(listening.url).port), waitFor, exited };
}

/**
 * An admin request in flight across the signal: its headers (with `Expect: 100-continue`) are in,
 * the server has answered `100 Continue` (so it is being handled), and its body comes later.
 */
async function requestInFlight(port: number): Promise<{ socket: Socket; finish: () => Promise<string> }> {
  const body = JSON.stringify({ name: 'in-flight-at-shutdown' });
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let answer = '';
  const continued = new Promise<void>((resolve) =>
    socket.on('data', (d: Buffer) => {
      answer += d.toString();
      if (answer.includes('100 Continue')) resolve();
    }),
  );
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    `POST /admin/keys HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${ADMIN}\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${body.length}\r\n\r\n`,
  );
  await continued;
  return {
    socket,
    finish: async () => {
      socket.write(body);
      await closed;
      return answer;
    },
  };
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });

it('SIGTERM to the npm process: in-flight request answered, listener closed, database closed, exit 0', async () => {
  const db = join(dir, 'graceful.db');
  const gw = await npmStart(db);
  const inFlight = await requestInFlight(gw.port);
  gw.npm.kill('SIGTERM');
  await gw.waitFor('shutting down');
  expect(await refused(gw.port)).toBe(true);
  const answer = await inFlight.finish();
  expect(answer).toMatch(/\r\n\r\nHTTP\/1\.1 200 /);
  expect(answer).toContain('in-flight-at-shutdown');
  expect(await gw.exited).toEqual({ code: 0, signal: null });
  await gw.waitFor('shut down cleanly');
  // A clean close checkpoints the WAL into the database file and removes it.
  expect(existsSync(`${db}-wal`)).toBe(false);
  const sqlite = new Database(db, { readonly: true });
  const names = sqlite.prepare('select name from api_keys').all() as { name: string }[];
  sqlite.close();
  expect(names.map((n) => n.name)).toContain('in-flight-at-shutdown');
  expect(await refused(gw.port)).toBe(true);
});

it('a second signal exits at once, without waiting for requests in flight', async () => {
  const gw = await npmStart(join(dir, 'impatient.db'));
  const inFlight = await requestInFlight(gw.port);
  gw.npm.kill('SIGTERM');
  await gw.waitFor('shutting down');
  gw.npm.kill('SIGTERM');
  const exit = await gw.exited;
  expect(exit.code === 0 && exit.signal === null).toBe(false);
  inFlight.socket.destroy();
});
