/**
 * Section `engines` (issue 13): submit and status throughput side by side for (a) SQLite, one
 * gateway process, (b) PostgreSQL, one gateway process, (c) PostgreSQL, three gateway processes on
 * one database, and (c') that submit row over 50 keys instead of one (what the one key's row locks
 * cost). Every row has the same layout: autocannon in the bench's own process, the fal emulator +
 * media server in one child, each gateway in a child of its own; for (c) autocannon spreads its
 * connections round-robin over the three gateway URLs (connection i → replica i mod 3). Each row
 * records the CPU of every process group, so the table says what limited it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, type Child } from './lib/child.ts';
import { cpuSnapshot, procCpuS } from './lib/cpu.ts';
import { bulkInsertTasks, prepareDb } from './lib/db.ts';
import { runLoad, type LoadOptions, type LoadResult } from './lib/load.ts';
import { benchPostgres, bulkInsertTasksPg, preparePgDb, sampleActivity, serverPids } from './lib/pg.ts';

const ENGINE_S = Number(process.env.BENCH_ENGINE_S ?? 5);
const WARMUP_S = 2;
const CONNECTIONS = 50;
const STATUS_TASKS = 100_000;
/** Polling far beyond the run: the submit rows measure creates, not polls. */
const POLLING = { initial_ms: 600_000 };

/** Keys of the diagnostic row: enough that two connections rarely use one key at the same moment. */
const MANY_KEYS = 50;

type Engine = 'sqlite' | 'pg1' | 'pg3' | 'pg3keys';
const ENGINE_NAME: Record<Engine, string> = {
  sqlite: '(a) SQLite, 1 gateway',
  pg1: '(b) PostgreSQL, 1 gateway',
  pg3: '(c) PostgreSQL, 3 gateways',
  pg3keys: `(c') PostgreSQL, 3 gateways, ${MANY_KEYS} keys`,
};

type Target = Omit<LoadOptions, 'connections' | 'durationS' | 'url'> & { urls: string[] };

/** CPU of each process group during the measured window, % of one core. */
interface CpuShare {
  load_generator: number;
  /** Each gateway process. */
  gateways: number[];
  emulator: number;
  postgres: number | null;
  /** Cores busy machine-wide, and the part of them no process above used. */
  machine_cores: number;
  other_cores: number;
}

export interface EngineRow {
  kind: 'submit' | 'status';
  engine: Engine;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  errors: number;
  cpu: CpuShare;
  /** PostgreSQL client backends of the bench database by state, mean over 10 samples/s. */
  backends?: Record<string, number>;
  limit: string;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Cumulative CPU seconds of every group now, plus the machine's busy seconds (/proc/stat). */
function cpuNow(gws: Child[], emu: Child, pgPids: number[]) {
  const u = process.cpuUsage();
  const pg = new Map<number, number>();
  for (const p of pgPids) pg.set(p, procCpuS(p));
  return {
    at: performance.now(),
    parent: (u.user + u.system) / 1e6,
    gateways: gws.map((g) => g.cpuS()),
    emulator: emu.cpuS(),
    pg,
    busy: cpuSnapshot().busyS,
  };
}

function share(a: ReturnType<typeof cpuNow>, b: ReturnType<typeof cpuNow>, hasPg: boolean): CpuShare {
  const s = (b.at - a.at) / 1000;
  const pct = (x: number) => Math.round((x / s) * 100);
  const gw = b.gateways.map((v, i) => v - a.gateways[i]!);
  // Server processes alive at the end: what they used since the start (all of it when they are newer);
  // one that exited meanwhile (an autovacuum worker) is lost rather than counted negative.
  let pg = 0;
  for (const [pid, end] of b.pg) if (end > 0) pg += end - (a.pg.get(pid) ?? 0);
  const mine = b.parent - a.parent + gw.reduce((x, y) => x + y, 0) + (b.emulator - a.emulator) + (hasPg ? pg : 0);
  const busy = b.busy - a.busy;
  return {
    load_generator: pct(b.parent - a.parent),
    gateways: gw.map(pct),
    emulator: pct(b.emulator - a.emulator),
    postgres: hasPg ? pct(pg) : null,
    machine_cores: r2(busy / s),
    other_cores: r2(Math.max(0, busy - mine) / s),
  };
}

/** What the measurements say limited the row (Node processes are single-threaded: ~100 % = one core used up). */
function limitOf(kind: 'submit' | 'status', oneKey: boolean, c: CpuShare, backends?: Record<string, number>): string {
  const parts: string[] = [];
  if (c.machine_cores >= 1.8) parts.push(`both cores busy (${c.machine_cores} of 2)`);
  const hotGw = c.gateways.filter((g) => g >= 85).length;
  if (hotGw) parts.push(c.gateways.length === 1 ? `gateway CPU (${c.gateways[0]}% of a core)` : `${hotGw} of ${c.gateways.length} gateways near a core each (${c.gateways.join('/')}%)`);
  else parts.push(`gateway${c.gateways.length > 1 ? 's' : ''} ${c.gateways.join('/')}% of a core`);
  if (c.postgres !== null) parts.push(`PostgreSQL ${c.postgres}% of a core`);
  if (c.load_generator >= 85) parts.push(`load generator near a core (${c.load_generator}%)`);
  else parts.push(`load generator ${c.load_generator}%`);
  if (kind === 'submit') parts.push(`emulator ${c.emulator}%`);
  const lock = backends?.['lock wait'] ?? 0;
  if (lock > 0) parts.push(`${lock} backends on average waiting on a row lock${kind === 'submit' && oneKey ? ' (one key: every hold locks its api_keys row and the same spend_daily row)' : ''}`);
  const idleTx = backends?.['idle in transaction'] ?? 0;
  // A transaction left open between statements: its gateway's event loop was busy elsewhere, holding its locks meanwhile.
  if (idleTx > 0) parts.push(`${idleTx} idle in transaction (waiting for their gateway between statements)`);
  if (c.other_cores >= 0.2) parts.push(`other processes took ${c.other_cores} cores`);
  return parts.join('; ');
}

async function measure(kind: 'submit' | 'status', engine: Engine, t: Target, gws: Child[], emu: Child, pg?: { db: string; pids: () => number[] }, log = (_: string) => {}): Promise<EngineRow> {
  const opts = (durationS: number): LoadOptions => ({ ...t, url: t.urls[0]!, ...(t.urls.length > 1 ? { urls: t.urls } : {}), connections: CONNECTIONS, durationS });
  // One request through each gateway first: a row of failures is void.
  for (const url of t.urls) {
    const res = await fetch(t.path ? new URL(t.path(), url) : url, { method: t.method ?? 'GET', headers: t.headers ?? {}, ...(t.body !== undefined ? { body: t.body } : {}) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${kind} ${ENGINE_NAME[engine]} ${url}: HTTP ${res.status} ${text.slice(0, 400)}`);
  }
  log(`engines ${kind} ${ENGINE_NAME[engine]}: warm-up ${WARMUP_S}s, then ${CONNECTIONS} connections × ${ENGINE_S}s`);
  await runLoad(opts(WARMUP_S));
  const activity = pg ? sampleActivity(pg.db) : undefined;
  const a = cpuNow(gws, emu, pg?.pids() ?? []);
  const res: LoadResult = await runLoad(opts(ENGINE_S));
  const b = cpuNow(gws, emu, pg?.pids() ?? []);
  const backends = await activity?.stop();
  const cpu = share(a, b, pg !== undefined && b.pg.size > 0);
  const row: EngineRow = { kind, engine, rps: Math.round(res.rps), p50_ms: r3(res.p50Ms), p99_ms: r3(res.p99Ms), non2xx: res.non2xx, errors: res.errors, cpu, ...(backends ? { backends } : {}), limit: limitOf(kind, engine !== 'pg3keys', cpu, backends) };
  log(`  → ${row.rps} req/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, non-2xx ${row.non2xx}; ${row.limit}`);
  return row;
}

/** Start `n` gateway children on `db` (a SQLite path or a PostgreSQL URL), routing to the emulator child. */
async function gateways(n: number, db: string, emulatorUrl: string, filesDir?: string): Promise<Child[]> {
  const out: Child[] = [];
  // One after the other: replicas starting together would only queue on the migration lock anyway.
  for (let i = 0; i < n; i++) out.push(await startChild({ role: 'gateway', db, emulatorUrl, polling: POLLING, startPoller: true, ...(filesDir ? { filesDir } : {}) }));
  return out;
}

/** Submits with `keys[0]`, or with a random one of `keys` per request. */
function submitTarget(gws: Child[], mediaUrl: string, keys: string[]): Target {
  const headers = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  return {
    urls: gws.map((g) => `${g.info.gatewayUrl}/v1/videos/generations`),
    method: 'POST',
    headers: headers(keys[0]!),
    ...(keys.length > 1 ? { headersFor: () => headers(keys[Math.floor(Math.random() * keys.length)]!) } : {}),
    body: JSON.stringify({ model: 'kling-v3-motion-control', image_urls: [`${mediaUrl}/img.png`], video_urls: [`${mediaUrl}/v/5.mp4`] }),
  };
}

function statusTarget(gws: Child[], ids: string[], apiKey: string): Target {
  return {
    urls: gws.map((g) => `${g.info.gatewayUrl}/v1/tasks/x`),
    method: 'GET',
    headers: { authorization: `Bearer ${apiKey}` },
    path: () => `/v1/tasks/${ids[Math.floor(Math.random() * ids.length)]}`,
  };
}

async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.exit()));
}

export interface EnginesResult {
  duration_s: number;
  warmup_s: number;
  connections: number;
  status_tasks: number;
  postgres: { external: boolean; start_s: number; insert_ms: number; pids_found: number };
  rows: EngineRow[];
  section_s: number;
}

/** The section: a PostgreSQL server for its length (unless REELROUTE_BENCH_PG_URL), an emulator child, seven rows. */
export async function benchEngines(log: (line: string) => void): Promise<EnginesResult> {
  const started = performance.now();
  const server = await benchPostgres(log);
  // A run stopped with Ctrl-C must not leave its server behind (the next start would reap it, later).
  const onSignal = () => void server.stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const pgPids = () => serverPids(server.url);
  const pidsFound = pgPids().length;
  log(`engines: PostgreSQL ${server.external ? 'from REELROUTE_BENCH_PG_URL' : `started (${server.startS.toFixed(1)} s)`}; ${pidsFound} server processes visible (their CPU is counted when > 0)`);
  const emu = await startChild({ role: 'emulator', emulator: { queueMs: 0, runMs: 600_000 } });
  await emu.call('emuAutoPrune', { everyMs: 250 });
  const filesDir = mkdtempSync(join(tmpdir(), 'reelroute-bench-files-'));
  const rows: EngineRow[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  let insertMs = 0;
  try {
    const { emulatorUrl, mediaUrl } = emu.info as Required<typeof emu.info>;
    // Submit: a fresh database per engine, so each row starts from an empty tasks table.
    const lite = await prepareDb('engines-submit');
    cleanup.push(async () => rmSync(lite.dir, { recursive: true, force: true }));
    let gws = await gateways(1, lite.path, emulatorUrl);
    rows.push(await measure('submit', 'sqlite', submitTarget(gws, mediaUrl, [lite.apiKey]), gws, emu, undefined, log).finally(() => stopAll(gws)));
    for (const [engine, n] of [['pg1', 1], ['pg3', 3], ['pg3keys', 3]] as const) {
      const db = await preparePgDb(server.url, `submit_${engine}`, engine === 'pg3keys' ? MANY_KEYS - 1 : 0);
      cleanup.push(db.drop);
      gws = await gateways(n, db.url, emulatorUrl, filesDir);
      rows.push(await measure('submit', engine, submitTarget(gws, mediaUrl, [db.apiKey, ...db.extraKeys]), gws, emu, { db: db.url, pids: pgPids }, log).finally(() => stopAll(gws)));
    }
    // Status: the same 100k completed tasks in each engine; both PostgreSQL rows read one database.
    const liteStatus = await prepareDb('engines-status');
    cleanup.push(async () => rmSync(liteStatus.dir, { recursive: true, force: true }));
    let ids = bulkInsertTasks(liteStatus, { count: STATUS_TASKS, state: 'completed', upstreamPrefix: 'done-' });
    gws = await gateways(1, liteStatus.path, 'http://127.0.0.1:9');
    rows.push(await measure('status', 'sqlite', statusTarget(gws, ids, liteStatus.apiKey), gws, emu, undefined, log).finally(() => stopAll(gws)));
    const pgStatus = await preparePgDb(server.url, 'status');
    cleanup.push(pgStatus.drop);
    const t0 = performance.now();
    ids = await bulkInsertTasksPg(pgStatus, { count: STATUS_TASKS, state: 'completed', upstreamPrefix: 'done-' });
    insertMs = Math.round(performance.now() - t0);
    log(`engines: ${STATUS_TASKS} tasks (+attempts, ledger rows) inserted into PostgreSQL in ${insertMs} ms`);
    for (const [engine, n] of [['pg1', 1], ['pg3', 3]] as const) {
      gws = await gateways(n, pgStatus.url, 'http://127.0.0.1:9', filesDir);
      rows.push(await measure('status', engine, statusTarget(gws, ids, pgStatus.apiKey), gws, emu, { db: pgStatus.url, pids: pgPids }, log).finally(() => stopAll(gws)));
    }
  } finally {
    await emu.exit();
    for (const c of cleanup) await c().catch((err: Error) => log(`engines cleanup: ${err.message}`));
    rmSync(filesDir, { recursive: true, force: true });
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await server.stop();
  }
  return {
    duration_s: ENGINE_S,
    warmup_s: WARMUP_S,
    connections: CONNECTIONS,
    status_tasks: STATUS_TASKS,
    postgres: { external: server.external, start_s: r2(server.startS), insert_ms: insertMs, pids_found: pidsFound },
    rows,
    section_s: Math.round((performance.now() - started) / 1000),
  };
}

/** Table lines (bench/run.ts `Line`): one per row, the measured limits in the value column. */
export function enginesLines(r: EnginesResult) {
  const section = `engines ${r.connections}c`;
  return r.rows.map((row) => {
    const base = r.rows.find((x) => x.kind === row.kind && x.engine === 'sqlite');
    const vs = base && row.engine !== 'sqlite' ? `${Math.round((row.rps / base.rps) * 100)}% of (a); ` : '';
    return {
      section,
      what: `${row.kind === 'submit' ? 'POST /v1/videos/generations' : `GET /v1/tasks/{id} (${r.status_tasks / 1000}k tasks)`} · ${ENGINE_NAME[row.engine]}`,
      rps: row.rps,
      p50: row.p50_ms,
      p99: row.p99_ms,
      non2xx: `${row.non2xx}${row.errors ? ` (+${row.errors} err)` : ''}`,
      other: row.cpu.other_cores,
      value: `${vs}${row.limit}`,
    };
  });
}

/** The method and what 2 cores allow, for latest.md. */
export function enginesNotes(r: EnginesResult): string[] {
  return [
    `- **engines**: ${ENGINE_S} s per row after ${WARMUP_S} s of warm-up (shorter than the 10 s submit/status rows above, to keep the run within a few minutes), ${r.connections} connections. Layout for every row: autocannon in the bench process; the fal emulator + media server in one child; each gateway in a child of its own (run under tsx like the rows above), poller on. (a) one gateway on a fresh SQLite file; (b) one gateway on a fresh PostgreSQL database; (c) three gateways on one fresh PostgreSQL database, autocannon's connections spread round-robin over the three URLs (connection i → gateway i mod 3, so 17/17/16); (c') is (c) with each request signed by one of ${MANY_KEYS} keys at random instead of one key — a diagnostic row: the difference between (c) and (c') is what the one key's row locks cost. PostgreSQL ${r.postgres.external ? 'from REELROUTE_BENCH_PG_URL' : `15, started by the bench (initdb + start ${r.postgres.start_s} s) with fsync, synchronous_commit and full_page_writes off (as the tests run it: commits cost no disk flush, so the PostgreSQL rows are an upper bound for a durable server)`}; each gateway's pool holds at most 10 connections. Status rows read ${r.status_tasks} completed tasks (PostgreSQL bulk insert ${r.postgres.insert_ms} ms), random ids; both PostgreSQL status rows read the same database.`,
    '  - The value column is measured, not guessed: each process group\'s CPU during the window (% of one core; a Node process is single-threaded, so ~100 % means that process is the bottleneck), the machine\'s busy cores, and for PostgreSQL the mean number of client backends in each state (pg_stat_activity sampled 10×/s).',
    '  - What 2 cores allow: every row shares two cores between the load generator, the emulator (submits), one or three gateways and PostgreSQL\'s backends. Three replicas on the same two cores cannot add CPU; they split it, and each pays its own event loop, pool and poller. So (c) measures that the replicas work together on one database (holds, Idempotency-Key and task ids meeting in PostgreSQL), not the scale-out a deployment with a machine per replica would see. Every submit uses one API key, so each hold locks the same api_keys row and updates the same spend_daily row: across replicas those transactions queue on the row lock (the backends column shows how many waited), which a real multi-key workload would not.',
  ];
}
