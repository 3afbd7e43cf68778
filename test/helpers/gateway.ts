/**
 * Integration harness: a real gateway (real SQLite file, real HTTP on 127.0.0.1:0) in front of real
 * emulators, all on one manual clock. Tests advance the clock and run the poller instead of sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import pg from 'pg';
import pino from 'pino';
import { expect } from 'vitest';
import { EMULATORS } from '../../providers/emulators.ts';
import { listen, type Emulator, type EmulatorOptions, type RunningServer } from '../../providers/emulator-kit.ts';
import { parseConfig } from '../../src/config.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import { createTestDatabase } from './postgres-server.ts';
import { rangeResponse } from '../../src/media/range-response.ts';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { TERMINAL } from '../../src/tasks/context.ts';

export interface TestProvider {
  id: string;
  type: string;
  priority?: number;
  enabled?: boolean;
  /** per_second prices (USD) for motion control. */
  price?: { '720p': number; '1080p': number };
  /** A full price spec for motion control (e.g. credits with credit_usd); wins over `price`. */
  priceSpec?: Record<string, unknown>;
  emulator?: EmulatorOptions;
}

export interface GatewayOptions {
  providers: TestProvider[];
  /** Extra config (merged over the defaults). */
  config?: Record<string, unknown>;
}

export const ADMIN_KEY = 'rr_admin_test_secret';

/** Serves test media: `/v/<seconds>.mp4` (any duration), `/moov-end/<s>.mp4`, `/img.png`, `/garbage.mp4`. */
export async function startMediaServer(): Promise<RunningServer & { requests: number }> {
  const app = new Hono();
  const state = { requests: 0 };
  app.use('*', async (_c, next) => {
    state.requests++;
    await next();
  });
  app.get('/v/:file', (c) => rangeResponse(c.req.header('range'), syntheticMp4({ durationS: parseFloat(c.req.param('file')) }), { 'content-type': 'video/mp4' }));
  app.get('/moov-end/:file', (c) =>
    rangeResponse(c.req.header('range'), syntheticMp4({ durationS: parseFloat(c.req.param('file')), moovAtEnd: true, padBytes: 2_000_000 }), { 'content-type': 'video/mp4' }),
  );
  app.get('/img.png', (c) => c.body(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 200, { 'content-type': 'image/png' }));
  app.get('/garbage.mp4', (c) => c.body(new Uint8Array(4096).fill(7), 200, { 'content-type': 'video/mp4' }));
  const server = await listen(app);
  // defineProperty, not Object.assign: assign would copy the getter's value (0) once.
  return Object.defineProperty(server, 'requests', { get: () => state.requests, enumerable: true }) as RunningServer & { requests: number };
}

export interface Gateway {
  url: string;
  media: RunningServer & { requests: number };
  emulators: Record<string, Emulator>;
  runtime: Runtime;
  store: Store;
  /** The database (a SQLite file or a PostgreSQL URL): a second store on it sees what a restart would. */
  dbPath: string;
  now(): number;
  advance(ms: number): void;
  /** Call the gateway; `key` defaults to the test API key. */
  call(method: string, path: string, opts?: { body?: unknown; key?: string | null; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  createKey(body?: Record<string, unknown>): Promise<{ id: string; key: string; webhook_secret: string }>;
  /** A valid motion body whose reference video lasts `seconds`. */
  motion(seconds?: number, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Advance the clock step by step, running the poller, until the task ends (or give up). */
  settle(taskId: string, key?: string): Promise<any>;
  close(): Promise<void>;
}

/** Calls to a gateway at `url`; `key` defaults to `defaultKey()`. */
function caller(url: string, defaultKey: () => string): Gateway['call'] {
  return async (method, path, o = {}) => {
    const key = o.key === undefined ? defaultKey() : o.key;
    const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}), ...o.headers };
    let body: string | undefined = o.raw;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  // Starts at the real time so signatures checked against the wall clock (Standard Webhooks) verify.
  let now = Date.now();
  const clock = () => now;
  const dir = mkdtempSync(join(tmpdir(), 'reelroute-test-'));
  const media = await startMediaServer();
  const emulators: Record<string, Emulator> = {};
  const providers = [];
  for (const p of opts.providers) {
    const start = EMULATORS.get(p.type);
    if (!start) throw new Error(`no emulator for ${p.type}`);
    const emu = await start({ now: clock, queueMs: 1_000, runMs: 5_000, credentials: { apiKey: `${p.id}-key` }, outputDurationS: 5, ...p.emulator });
    emulators[p.id] = emu;
    providers.push({
      id: p.id,
      type: p.type,
      base_url: emu.url,
      api_key: `${p.id}-key`,
      priority: p.priority ?? 0,
      enabled: p.enabled ?? true,
      timeout_ms: 2_000,
      ...(p.price || p.priceSpec ? { models: { 'kling-v3-motion-control': { price: p.priceSpec ?? { per_second: p.price } } } } : {}),
    });
  }
  // REELROUTE_TEST_DB=postgres (the `postgres` test project): a fresh database on the run's server.
  const pg = process.env.REELROUTE_TEST_DB === 'postgres' ? await createTestDatabase(process.env.REELROUTE_TEST_PG_URL!) : null;
  const config = parseConfig({
    callbacks: { allow_insecure: true },
    // The per-key create/estimate limit is on by default; on a manual clock it would refuse any test
    // that sends more than a burst. test/integration/probe-flood.test.ts covers the default itself.
    server: { rate_limit: { create_rps: 0 } },
    polling: { initial_ms: 1_000, max_ms: 5_000 },
    routing: { breaker_failures: 3, breaker_cooldown_ms: 60_000 },
    ...opts.config,
    // PostgreSQL: replicas share the files folder, so it is named and declared shared.
    ...(pg ? { files: { dir: join(dir, 'files'), shared: true, ...(opts.config?.files as object | undefined) } } : {}),
    providers,
  });
  const dbPath = pg?.url ?? join(dir, 'reelroute.db');
  const store = await openStore(dbPath);
  const runtime = await createRuntime({ config, store, adminKey: ADMIN_KEY, now: clock, log: pino({ level: 'silent' }) });
  const server = await listen(runtime.app);
  let defaultKey = '';

  const call = caller(server.url, () => defaultKey);

  const gw: Gateway = {
    url: server.url,
    media,
    emulators,
    runtime,
    store,
    dbPath,
    now: clock,
    advance: (ms) => void (now += ms),
    call,
    async createKey(body = { name: 'test' }) {
      const res = await call('POST', '/admin/keys', { body, key: ADMIN_KEY });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    },
    motion: (seconds = 5, extra = {}) => ({
      model: 'kling-v3-motion-control',
      image_urls: [`${media.url}/img.png`],
      video_urls: [`${media.url}/v/${seconds}.mp4`],
      ...extra,
    }),
    async settle(taskId, key) {
      for (let i = 0; i < 60; i++) {
        const res = await call('GET', `/v1/tasks/${taskId}`, key ? { key } : {});
        if (TERMINAL.has(res.body.status)) return res.body;
        now += 1_000;
        await runtime.poller.runDue();
      }
      throw new Error(`task ${taskId} did not end`);
    },
    async close() {
      await Promise.all([runtime.poller.stop(), runtime.callbacks.stop()]);
      await server.close();
      await media.close();
      await Promise.all(Object.values(emulators).map((e) => e.close()));
      await store.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  defaultKey = (await gw.createKey()).key;
  return gw;
}

/**
 * The money invariants, checked against the ledger itself: per task, holds = reserved and, once it
 * ended, charged + refunded = reserved; per prepaid key, balance = sum of its ledger deltas.
 */
export async function expectLedgerInvariants(store: Store): Promise<void> {
  const tasks = await store.tasks.all();
  const totals = await store.ledger.totalsByTask(tasks.map((t) => t.id));
  for (const t of tasks) {
    const sums = totals.get(t.id) ?? { credit: 0, hold: 0, charge: 0, refund: 0 };
    expect(sums.hold, `task ${t.id} holds`).toBe(t.reservedMicros);
    expect(sums.charge, `task ${t.id} charges`).toBe(t.chargedMicros);
    expect(sums.refund, `task ${t.id} refunds`).toBe(t.refundedMicros);
    expect(t.chargedMicros).toBeLessThanOrEqual(t.reservedMicros);
    if (TERMINAL.has(t.status)) expect(t.chargedMicros + t.refundedMicros, `task ${t.id} settled`).toBe(t.reservedMicros);
  }
  for (const k of (await store.keys.list())) {
    if (k.balanceMicros !== null) expect(k.balanceMicros, `key ${k.id} balance`).toBe((await store.ledger.balanceOf(k.id)));
  }
}

/** A second gateway process's view: its own runtime and HTTP server on the first one's database. */
export interface Replica {
  url: string;
  runtime: Runtime;
  store: Store;
  call: Gateway['call'];
  close(): Promise<void>;
}

/**
 * Another replica of `primary` (PostgreSQL): same database, same upstreams, same clock, its own
 * store, runtime and server — what a second process would be.
 */
export async function startReplica(primary: Gateway, replicaId: string): Promise<Replica> {
  const store = await openStore(primary.dbPath);
  const runtime = await createRuntime({ config: primary.runtime.ctx.config, store, adminKey: ADMIN_KEY, now: primary.now, log: pino({ level: 'silent' }), replicaId });
  const server = await listen(runtime.app);
  return {
    url: server.url,
    runtime,
    store,
    call: caller(server.url, () => ''),
    async close() {
      await Promise.all([runtime.poller.stop(), runtime.callbacks.stop(), runtime.replicas.stop()]);
      await server.close();
      await store.close();
    },
  };
}

/**
 * Run SQL on the gateway's database over a connection of its own (another process's view): the
 * `sqlite` text on SQLite, the `postgres` text on PostgreSQL. Tests use it to inject failures.
 */
export async function rawExec(gw: Pick<Gateway, 'dbPath'>, sql: { sqlite: string; postgres: string }): Promise<void> {
  if (/^postgres(ql)?:/.test(gw.dbPath)) {
    const client = new pg.Client({ connectionString: gw.dbPath });
    await client.connect();
    try {
      await client.query(sql.postgres);
    } finally {
      await client.end();
    }
    return;
  }
  const db = new Database(gw.dbPath);
  try {
    db.exec(sql.sqlite);
  } finally {
    db.close();
  }
}
