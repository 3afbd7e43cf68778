/**
 * `npm run bench` (issue 3): submit throughput against a bare-proxy floor and the emulator itself,
 * added latency, status reads over 100k tasks, tracking 100k in-flight tasks, ledger throughput,
 * and a CPU profile of the submit path. Prints one table; writes bench/results/latest.{json,md}.
 *
 * Layout: autocannon runs in this process; the servers under test run in child processes
 * (bench/gateway-server.ts, forked with `--import tsx`), so the load generator never shares an
 * event loop with them. Everything is on 127.0.0.1.
 *
 * Env: BENCH_TRACK_N (tasks in flight, default 100000), BENCH_ONLY (comma list of sections:
 * submit,status,engines,tracking,ledger,profile,report; also status-profile, not in the default run),
 * BENCH_SUBMIT_S / BENCH_LATENCY_S / BENCH_ENGINE_S (durations), BENCH_BUDGET_S (whole-run budget
 * without the engines section, default 285 s; the tracking section runs last and its settling wait
 * gets what is left, 45–180 s), REELROUTE_BENCH_PG_URL (a PostgreSQL server for the engines
 * section instead of the one it starts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore } from '../src/db/store.ts';
import { hold, settle } from '../src/ledger/ledger.ts';
import { createKey } from '../src/keys/keys.ts';
import { startChild, type Child } from './lib/child.ts';
import { FAL_KEY, FAL_MODEL_ID, UNITS, UNIT_MICROS } from './lib/constants.ts';
import { bulkInsertTasks, prepareDb, type PreparedDb } from './lib/db.ts';
import { runLoad, type LoadOptions, type LoadResult } from './lib/load.ts';
import { cpuBetween, cpuSnapshot } from './lib/cpu.ts';
import { analyzeProfile, callersOf, profileMarkdown, type ProfileSummary } from './profile-analyze.ts';
import { benchProbeFlood, probeFloodLines } from './probe-flood.ts';
import { benchReport, reportLines } from './report-scale.ts';
import { benchUploadRss, uploadRssLines } from './upload-rss.ts';
import { benchEngines, enginesLines, enginesNotes } from './engines.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const SUBMIT_S = Number(process.env.BENCH_SUBMIT_S ?? 10);
const LATENCY_S = Number(process.env.BENCH_LATENCY_S ?? 5);
const STATUS_S = 10;
const STATUS_TASKS = 100_000;
const STATUS_FLOOR_S = 5;
const TRACK_N = Number(process.env.BENCH_TRACK_N ?? 100_000);
const TRACK_INFLIGHT_S = 15;
/** Settling gets what is left of the run's budget (tracking runs last), within these bounds. */
const RUN_BUDGET_S = Number(process.env.BENCH_BUDGET_S ?? 285);
const TRACK_SETTLE_MIN_S = 45;
const TRACK_SETTLE_MAX_S = 180;
const RUN_STARTED = Date.now();
/** Seconds the engines section took: outside the budget, so it does not cut the tracking section's settling short. */
let enginesS = 0;
const LEDGER_S = 3;
const PROFILE_S = 10;
const WARMUP_S = 2;
/** Poller settings for the tracking run (src/config.ts `polling`). */
const TRACK_POLLING = { initial_ms: 2_000, max_ms: 30_000, per_provider_concurrency: 64, batch: 2_000 };
const ONLY = new Set((process.env.BENCH_ONLY ?? 'submit,status,engines,tracking,ledger,profile,report').split(',').map((s) => s.trim()));

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hrUs = () => Number(process.hrtime.bigint() / 1000n);
const MB = (b: number) => Math.round((b / 1048576) * 10) / 10;
const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

type Target = 'a' | 'b' | 'c';
const TARGET_NAME: Record<Target, string> = {
  a: '(a) fal emulator direct',
  b: '(b) bare Hono+undici proxy',
  c: '(c) reelroute POST /v1/videos/generations',
};

interface Targets {
  load: Record<Target, Omit<LoadOptions, 'connections' | 'durationS'>>;
}

function targetsFor(info: { emulatorUrl: string; mediaUrl: string; proxyUrl?: string; gatewayUrl: string }, apiKey: string): Targets {
  const falBody = JSON.stringify({
    image_url: `${info.mediaUrl}/img.png`,
    video_url: `${info.mediaUrl}/v/5.mp4`,
    character_orientation: 'image',
    keep_original_sound: true,
  });
  const gwBody = JSON.stringify({
    model: 'kling-v3-motion-control',
    image_urls: [`${info.mediaUrl}/img.png`],
    video_urls: [`${info.mediaUrl}/v/5.mp4`],
  });
  const fal = { authorization: `Key ${FAL_KEY}`, 'content-type': 'application/json' };
  return {
    load: {
      a: { url: `${info.emulatorUrl}/${FAL_MODEL_ID}`, method: 'POST', headers: fal, body: falBody },
      b: { url: `${info.proxyUrl ?? ''}/${FAL_MODEL_ID}`, method: 'POST', headers: fal, body: falBody },
      c: { url: `${info.gatewayUrl}/v1/videos/generations`, method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: gwBody },
    },
  };
}

/** One request through a target; throws unless it answers 2xx (a benchmark of failures is void). */
async function check(o: Omit<LoadOptions, 'connections' | 'durationS'>, what: string): Promise<unknown> {
  const res = await fetch(o.url, { method: o.method ?? 'GET', headers: o.headers ?? {}, ...(o.body !== undefined ? { body: o.body } : {}) });
  const text = await res.text();
  if (res.status < 200 || res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

function summarize(r: LoadResult) {
  return {
    rps: Math.round(r.rps),
    p50_ms: r3(r.p50Ms),
    p90_ms: r3(r.p90Ms),
    p99_ms: r3(r.p99Ms),
    mean_ms: r3(r.meanMs),
    max_ms: r3(r.maxMs),
    requests: r.requests,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    status_codes: r.statusCodes,
    duration_s: r.durationS,
    cpu: r.cpu,
  };
}
type Summary = ReturnType<typeof summarize>;

// ─── submit + added latency ────────────────────────────────────────────────────────────────────
async function benchSubmit() {
  const db = await prepareDb('submit');
  log('submit: starting stack child (emulator + media + bare proxy + gateway)');
  // The poller runs as in production, but tasks created here are first due after the run
  // (initial_ms 10 min): this measures the submit path, not polling.
  const child = await startChild({ role: 'stack', db: db.path, emulator: { queueMs: 0, runMs: 600_000 }, polling: { initial_ms: 600_000 }, startPoller: true });
  const info = child.info as Required<typeof child.info>;
  const t = targetsFor(info, db.apiKey);
  try {
    for (const k of ['a', 'b', 'c'] as Target[]) await check(t.load[k], TARGET_NAME[k]);
    const mediaAfterPrime = await child.call<number>('mediaRequests');
    await child.call('emuAutoPrune', { everyMs: 250 });
    const submit = {} as Record<Target, Summary>;
    for (const k of ['a', 'b', 'c'] as Target[]) {
      await child.call('emuClear');
      log(`submit ${TARGET_NAME[k]}: warm-up ${WARMUP_S}s, then 50 connections × ${SUBMIT_S}s`);
      await runLoad({ ...t.load[k], connections: 50, durationS: WARMUP_S });
      submit[k] = summarize(await runLoad({ ...t.load[k], connections: 50, durationS: SUBMIT_S }));
      log(`  → ${submit[k].rps} req/s, p50 ${submit[k].p50_ms} ms, p99 ${submit[k].p99_ms} ms, non-2xx ${submit[k].non2xx}, errors ${submit[k].errors}`);
    }
    const latency = {} as Record<Target, Summary>;
    for (const k of ['a', 'b', 'c'] as Target[]) {
      await child.call('emuClear');
      log(`added latency ${TARGET_NAME[k]}: 1 connection × ${LATENCY_S}s`);
      await runLoad({ ...t.load[k], connections: 1, durationS: 1 });
      latency[k] = summarize(await runLoad({ ...t.load[k], connections: 1, durationS: LATENCY_S }));
      log(`  → p50 ${latency[k].p50_ms} ms, p99 ${latency[k].p99_ms} ms (${latency[k].rps} req/s), non-2xx ${latency[k].non2xx}`);
    }
    const mediaRequests = (await child.call<number>('mediaRequests')) - mediaAfterPrime;
    return {
      layout:
        'parent process: autocannon; one child process (node --import tsx bench/gateway-server.ts): fal emulator + media server + bare proxy + reelroute gateway. (a) loads the emulator alone, (b) proxy+emulator, (c) gateway+emulator — each on the same single child event loop.',
      notes: [
        'The emulator task map is cleared every 250 ms during these runs (its create scans every task it holds to compute queue_position).',
        `Media requests made by the gateway's probe during the runs after priming: ${mediaRequests} (probe cache hit on every request when 0).`,
      ],
      submit,
      latency,
      ratios: { c_over_b: r3(submit.c.rps / submit.b.rps), c_over_a: r3(submit.c.rps / submit.a.rps) },
      added: { p50_ms: r3(latency.c.p50_ms - latency.a.p50_ms), p99_ms: r3(latency.c.p99_ms - latency.a.p99_ms), proxy_p50_ms: r3(latency.b.p50_ms - latency.a.p50_ms) },
    };
  } finally {
    await child.exit();
    rmSync(db.dir, { recursive: true, force: true });
  }
}

// ─── status reads over 100k tasks ──────────────────────────────────────────────────────────────
async function benchStatus() {
  const db = await prepareDb('status');
  let t0 = Date.now();
  const ids = bulkInsertTasks(db, { count: STATUS_TASKS, state: 'completed', upstreamPrefix: 'done-' });
  const insertMs = Date.now() - t0;
  log(`status: inserted ${STATUS_TASKS} tasks (+attempts, ledger rows) in ${insertMs} ms`);
  // No upstream is called for reads; the provider URL only has to parse.
  const child = await startChild({ role: 'gateway', db: db.path, emulatorUrl: 'http://127.0.0.1:9', startPoller: true, bareStatic: true });
  try {
    const base = { url: `${child.info.gatewayUrl}/v1/tasks/x`, method: 'GET' as const, headers: { authorization: `Bearer ${db.apiKey}` } };
    const path = () => `/v1/tasks/${ids[Math.floor(Math.random() * ids.length)]}`;
    await check({ ...base, url: `${child.info.gatewayUrl}${path()}` }, 'GET /v1/tasks/{id}');
    log(`status: GET /v1/tasks/{id}, random ids over ${STATUS_TASKS}, warm-up ${WARMUP_S}s, then 50 connections × ${STATUS_S}s`);
    await runLoad({ ...base, path, connections: 50, durationS: WARMUP_S });
    t0 = Date.now();
    const res = summarize(await runLoad({ ...base, path, connections: 50, durationS: STATUS_S }));
    log(`  → ${res.rps} req/s, p50 ${res.p50_ms} ms, p99 ${res.p99_ms} ms, non-2xx ${res.non2xx}`);
    // Calibration: the same request shape against a bare Hono app answering a fixed task object.
    const floorTarget = { url: `${child.info.staticUrl}/v1/tasks/x`, method: 'GET' as const, path };
    log(`status floor: bare Hono GET with a fixed task object (same child), 1s warm-up, 50 connections × ${STATUS_FLOOR_S}s`);
    await runLoad({ ...floorTarget, connections: 50, durationS: 1 });
    const floor = summarize(await runLoad({ ...floorTarget, connections: 50, durationS: STATUS_FLOOR_S }));
    log(`  → ${floor.rps} req/s, p50 ${floor.p50_ms} ms, p99 ${floor.p99_ms} ms, non-2xx ${floor.non2xx}`);
    return { tasks: STATUS_TASKS, insert_ms: insertMs, ...res, rss_mb: MB(child.rss().rss), floor };
  } finally {
    await child.exit();
    rmSync(db.dir, { recursive: true, force: true });
  }
}

// ─── tracking N tasks in flight ────────────────────────────────────────────────────────────────
async function benchTracking(n: number) {
  log(`tracking: ${n} tasks; starting emulator child`);
  const emu = await startChild({ role: 'emulator', emulator: { queueMs: 0, runMs: 3_600_000 } });
  let gw: Child | undefined;
  const db = await prepareDb('tracking');
  try {
    let t0 = Date.now();
    await emu.call('emuCreate', { prefix: 'trk-', count: n });
    const emuCreateMs = Date.now() - t0;
    t0 = Date.now();
    bulkInsertTasks(db, { count: n, state: 'inflight', upstreamPrefix: 'trk-' });
    const insertMs = Date.now() - t0;
    log(`tracking: ${n} upstream tasks created in the emulator (${emuCreateMs} ms), ${n} task rows in the gateway DB (${insertMs} ms)`);
    // --expose-gc only so the bench can force one collection at the very end (retained vs garbage);
    // BENCH_GW_FLAGS adds node flags to try (e.g. --optimize-for-size, docs/operations.md).
    gw = await startChild({ role: 'gateway', db: db.path, emulatorUrl: emu.info.emulatorUrl!, polling: TRACK_POLLING, startPoller: false }, ['--expose-gc', ...(process.env.BENCH_GW_FLAGS?.split(' ').filter(Boolean) ?? [])], { compiled: true });
    await sleep(1_000);
    const idle = gw.rss();
    const idleMem = await gw.call<NodeJS.MemoryUsage>('mem');
    const reader = new Database(db.path, { readonly: true, fileMustExist: true });
    const unsettledQ = reader.prepare('select count(*) as n from tasks where next_poll_at is not null');
    const unsettled = () => (unsettledQ.get() as { n: number }).n;
    const polls = async () => (await emu.call<{ polls: number }>('emuStats')).polls;

    type Sample = { t_s: number; rss_mb: number; heap_used_mb: number; heap_total_mb: number; external_mb: number; polls: number; unsettled: number; gw_cpu_s: number; emu_cpu_s: number };
    const samples: Sample[] = [];
    const start = Date.now();
    const sample = async (): Promise<Sample> => {
      const m = await gw!.call<NodeJS.MemoryUsage>('mem');
      const s = {
        t_s: r1((Date.now() - start) / 1000),
        rss_mb: MB(gw!.rss().rss),
        heap_used_mb: MB(m.heapUsed),
        heap_total_mb: MB(m.heapTotal),
        external_mb: MB(m.external),
        polls: await polls(),
        unsettled: unsettled(),
        gw_cpu_s: gw!.cpuS(),
        emu_cpu_s: emu.cpuS(),
      };
      samples.push(s);
      return s;
    };
    /** CPU use of each child between two samples, % of one core. */
    const cpuPct = (a: Sample, b: Sample) => ({
      gateway: Math.round(((b.gw_cpu_s - a.gw_cpu_s) / (b.t_s - a.t_s)) * 100),
      emulator: Math.round(((b.emu_cpu_s - a.emu_cpu_s) / (b.t_s - a.t_s)) * 100),
    });
    await gw.call('pollerStart');
    log(`tracking: poller started (${JSON.stringify(TRACK_POLLING)}); ${TRACK_INFLIGHT_S}s with every task in flight`);
    const first = await sample();
    const cpuFirst = cpuSnapshot();
    while (Date.now() - start < TRACK_INFLIGHT_S * 1000) {
      await sleep(1_000);
      await sample();
    }
    const last = samples.at(-1)!;
    const otherInflight = cpuBetween(cpuFirst, cpuSnapshot());
    const inflightPollsPerS = (last.polls - first.polls) / (last.t_s - first.t_s);
    const inflightPeak = Math.max(...samples.map((s) => s.rss_mb));
    const inflightCpu = cpuPct(first, last);
    const inflightHeapPeak = Math.max(...samples.map((s) => s.heap_total_mb));
    const polledAtLeastOnce = (reader.prepare('select count(*) as n from tasks where polls > 0 or status = ?').get('processing') as { n: number }).n;
    log(`  → ${Math.round(inflightPollsPerS)} polls/s, gateway RSS peak ${inflightPeak} MB (V8 heap total peak ${inflightHeapPeak} MB), CPU gateway ${inflightCpu.gateway}% / emulator ${inflightCpu.emulator}%, ${polledAtLeastOnce}/${n} tasks polled at least once`);

    // The emulator finishes every task now; the poller must notice and settle all of them.
    const res = await fetch(`${emu.info.emulatorUrl}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ run_ms: 0, queue_ms: 0 }) });
    if (!res.ok) throw new Error(`emulator faults: HTTP ${res.status}`);
    const doneAt = Date.now();
    const pollsAtDone = await polls();
    const atDone = await sample();
    const cpuDone = cpuSnapshot();
    const settleLimitS = Math.round(Math.min(TRACK_SETTLE_MAX_S, Math.max(TRACK_SETTLE_MIN_S, RUN_BUDGET_S + enginesS - (Date.now() - RUN_STARTED) / 1000)));
    log(`tracking: emulator completed every task; waiting until all are settled (at most ${settleLimitS} s, the run's remaining budget)`);
    let left = unsettled();
    while (left > 0 && Date.now() - doneAt < settleLimitS * 1000) {
      await sleep(500);
      left = unsettled();
      if (Date.now() - samples.at(-1)!.t_s * 1000 - start >= 2_000) await sample();
    }
    const end = await sample();
    const settleCpu = cpuPct(atDone, end);
    const otherSettling = cpuBetween(cpuDone, cpuSnapshot());
    const settleS = (Date.now() - doneAt) / 1000;
    const pollsSettling = (await polls()) - pollsAtDone;
    const byStatus = reader.prepare('select status, count(*) as n from tasks group by status').all() as { status: string; n: number }[];
    const money = reader
      .prepare("select sum(reserved_micros) as reserved, sum(charged_micros) as charged, sum(refunded_micros) as refunded from tasks where status = 'completed'")
      .get() as { reserved: number; charged: number; refunded: number };
    reader.close();
    const peak = gw.rss().hwm;
    const mem = await gw.call<NodeJS.MemoryUsage>('gc');
    await sleep(200);
    const afterGc = gw.rss();
    log(`  → settled=${left === 0} in ${r1(settleS)} s; statuses ${JSON.stringify(byStatus)}; gateway RSS peak ${MB(peak)} MB`);
    return {
      tasks: n,
      polling: TRACK_POLLING,
      emulator_create_ms: emuCreateMs,
      db_insert_ms: insertMs,
      layout: 'three processes: parent (samples /proc and the DB read-only), gateway child (poller; bundled and run by plain node, as npm start runs it), emulator child (holds the upstream tasks; polled over HTTP)',
      rss_idle_mb: MB(idle.rss),
      heap_total_idle_mb: MB(idleMem.heapTotal),
      heap_used_idle_mb: MB(idleMem.heapUsed),
      rss_inflight_peak_mb: inflightPeak,
      rss_peak_mb: MB(peak),
      heap_total_inflight_peak_mb: inflightHeapPeak,
      heap_total_peak_mb: Math.max(...samples.map((s) => s.heap_total_mb)),
      heap_used_after_gc_mb: MB(mem.heapUsed),
      rss_after_gc_mb: MB(afterGc.rss),
      /** RSS split (after GC): anonymous memory (heap, malloc) vs file-backed (node binary, libs) vs shared (SQLite -shm). */
      rss_after_gc_split_mb: { anon: MB(afterGc.anon), file: MB(afterGc.file), shmem: MB(afterGc.shmem) },
      rss_idle_split_mb: { anon: MB(idle.anon), file: MB(idle.file), shmem: MB(idle.shmem) },
      heap_total_after_gc_mb: MB(mem.heapTotal),
      external_after_gc_mb: MB(mem.external),
      settle_limit_s: settleLimitS,
      cpu_pct_inflight: inflightCpu,
      cpu_pct_settling: settleCpu,
      machine_cpu_inflight: otherInflight,
      machine_cpu_settling: otherSettling,
      inflight_polls_per_s: Math.round(inflightPollsPerS),
      polled_at_least_once_in_window: polledAtLeastOnce,
      settled: left === 0,
      unsettled_left: left,
      settle_s: r1(settleS),
      settle_completions_per_s: Math.round((n - left) / settleS),
      /** When not all settled in time: the time all would take at the rate seen. */
      settle_extrapolated_s: left === 0 ? r1(settleS) : r1(n / Math.max(1, (n - left) / settleS)),
      status_calls_while_settling: pollsSettling,
      by_status: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      money_completed: money,
      samples,
    };
  } finally {
    await gw?.exit();
    await emu.exit();
    rmSync(db.dir, { recursive: true, force: true });
  }
}

// ─── ledger ────────────────────────────────────────────────────────────────────────────────────
async function benchLedger(kind: 'postpaid' | 'prepaid') {
  const db: PreparedDb = await prepareDb(`ledger-${kind}`);
  const store = await openStore(db.path);
  try {
    let keyId = db.keyId;
    if (kind === 'prepaid') {
      keyId = (await createKey(store, { name: 'prepaid', balanceMicros: 1_000_000_000_000_000, dailyBudgetMicros: null, monthlyBudgetMicros: null }, Date.now())).row.id;
    }
    const reserved = UNIT_MICROS * UNITS;
    const end = Date.now() + LEDGER_S * 1000;
    let pairs = 0;
    const t0 = process.hrtime.bigint();
    const cpu0 = cpuSnapshot();
    while (Date.now() < end) {
      for (let i = 0; i < 100; i++) {
        const taskId = `task_ledger_${pairs}`;
        const now = Date.now();
        await store.transaction((tx) => hold(tx, keyId, taskId, reserved, now));
        await store.transaction((tx) => settle(tx, { id: taskId, keyId, reservedMicros: reserved }, reserved - UNIT_MICROS, now));
        pairs++;
      }
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return { key: kind, cpu: cpuBetween(cpu0, cpuSnapshot()), pairs, seconds: r3(s), holds_per_s: Math.round(pairs / s), settles_per_s: Math.round(pairs / s), transactions_per_s: Math.round((2 * pairs) / s) };
  } finally {
    await store.close();
    rmSync(db.dir, { recursive: true, force: true });
  }
}

// ─── profile ───────────────────────────────────────────────────────────────────────────────────
/**
 * One gateway child under `node --cpu-prof`, loaded for PROFILE_S. `submit` (the default run)
 * profiles POST /v1/videos/generations with the emulator in its own process; `status` (optional,
 * BENCH_ONLY=status-profile) profiles GET /v1/tasks/{id} over STATUS_TASKS rows.
 */
async function benchProfile(kind: 'submit' | 'status') {
  mkdirSync(RESULTS, { recursive: true });
  const name = `${kind}-gateway.cpuprofile`;
  const file = join(RESULTS, name);
  rmSync(file, { force: true });
  // --cpu-prof also profiles tsx's loader-hooks worker thread: profile into a scratch dir and keep
  // the main thread's file (CPU.<date>.<time>.<pid>.<thread 0>.<seq>.cpuprofile).
  const scratch = mkdtempSync(join(tmpdir(), 'reelroute-bench-prof-'));
  const emu = kind === 'submit' ? await startChild({ role: 'emulator', emulator: { queueMs: 0, runMs: 600_000 } }) : undefined;
  const db = await prepareDb(`profile-${kind}`);
  const ids = kind === 'status' ? bulkInsertTasks(db, { count: STATUS_TASKS, state: 'completed', upstreamPrefix: 'done-' }) : [];
  const gw = await startChild(
    { role: 'gateway', db: db.path, emulatorUrl: emu?.info.emulatorUrl ?? 'http://127.0.0.1:9', polling: { initial_ms: 600_000 }, startPoller: true },
    ['--cpu-prof', '--cpu-prof-dir', scratch],
  );
  let load: Summary;
  let window: { fromUs: number; toUs: number };
  try {
    let target: Omit<LoadOptions, 'connections' | 'durationS'>;
    if (kind === 'submit') {
      target = targetsFor({ emulatorUrl: emu!.info.emulatorUrl!, mediaUrl: emu!.info.mediaUrl!, gatewayUrl: gw.info.gatewayUrl! }, db.apiKey).load.c;
      await emu!.call('emuAutoPrune', { everyMs: 250 });
    } else {
      target = { url: `${gw.info.gatewayUrl}/v1/tasks/x`, method: 'GET', headers: { authorization: `Bearer ${db.apiKey}` }, path: () => `/v1/tasks/${ids[Math.floor(Math.random() * ids.length)]}` };
    }
    await check(kind === 'submit' ? target : { ...target, url: `${gw.info.gatewayUrl}/v1/tasks/${ids[0]}` }, `gateway (profiled, ${kind})`);
    log(`profile ${kind}: gateway child under node --cpu-prof${emu ? ' (emulator in its own process)' : ''}; warm-up ${WARMUP_S}s, then 50 connections × ${PROFILE_S}s`);
    await runLoad({ ...target, connections: 50, durationS: WARMUP_S });
    const fromUs = hrUs();
    load = summarize(await runLoad({ ...target, connections: 50, durationS: PROFILE_S }));
    window = { fromUs, toUs: hrUs() };
    log(`  → ${load.rps} req/s under the profiler, non-2xx ${load.non2xx}`);
  } finally {
    await gw.exit();
    await emu?.exit();
    rmSync(db.dir, { recursive: true, force: true });
  }
  const main = readdirSync(scratch).find((f) => f.split('.')[3] === String(gw.pid) && f.split('.')[4] === '0');
  if (!main) throw new Error(`no main-thread profile in ${scratch}: ${readdirSync(scratch).join(', ')}`);
  renameSync(join(scratch, main), file);
  rmSync(scratch, { recursive: true, force: true });
  let summary: ProfileSummary = analyzeProfile(file, window);
  let windowed = true;
  if (summary.samples < 100) {
    // Clocks did not line up (should not happen on Linux): fall back to the whole profile.
    summary = analyzeProfile(file);
    windowed = false;
  }
  const hot = ['^randomFillSync$', '^prepare$', '^sqliteTransaction$', '^makeTransferable$'].map((re) => ({ frame: re, ...callersOf(file, new RegExp(re), { ...window, top: 3 }) }));
  return {
    kind,
    file: `bench/results/${name}`,
    layout: kind === 'submit' ? 'parent: autocannon; child 1: reelroute gateway under --cpu-prof; child 2: fal emulator + media server' : 'parent: autocannon; child: reelroute gateway under --cpu-prof over a 100k-task DB',
    windowed_to_load: windowed,
    load_under_profiler: load,
    summary,
    callers: hot,
  };
}

// ─── report ────────────────────────────────────────────────────────────────────────────────────
interface Line {
  section: string;
  /** Cores used by processes outside the bench during the measurement. */
  other?: number | string;
  what: string;
  rps?: number | string;
  p50?: number | string;
  p99?: number | string;
  non2xx?: number | string;
  value?: string;
  goal?: string;
  met?: boolean | null;
}

function lines(r: any): Line[] {
  const out: Line[] = [];
  const err = (s: Summary) => `${s.non2xx}${s.errors ? ` (+${s.errors} err)` : ''}`;
  if (r.submit) {
    const s = r.submit;
    for (const k of ['a', 'b', 'c'] as Target[]) {
      out.push({ section: 'submit 50c', what: TARGET_NAME[k], rps: s.submit[k].rps, p50: s.submit[k].p50_ms, p99: s.submit[k].p99_ms, non2xx: err(s.submit[k]), other: s.submit[k].cpu.otherCores });
    }
    out.push({ section: 'submit 50c', what: 'ratio c/b', value: `${(s.ratios.c_over_b * 100).toFixed(1)}%`, goal: 'c ≥ 50% of b', met: s.ratios.c_over_b >= 0.5 });
    out.push({ section: 'submit 50c', what: 'ratio c/a', value: `${(s.ratios.c_over_a * 100).toFixed(1)}%` });
    for (const k of ['a', 'b', 'c'] as Target[]) {
      out.push({ section: 'latency 1c', what: TARGET_NAME[k], rps: s.latency[k].rps, p50: s.latency[k].p50_ms, p99: s.latency[k].p99_ms, non2xx: err(s.latency[k]), other: s.latency[k].cpu.otherCores });
    }
    out.push({ section: 'latency 1c', what: 'added: reelroute − direct', p50: s.added.p50_ms, p99: s.added.p99_ms, goal: 'p50 ≤ 0.5 ms', met: s.added.p50_ms <= 0.5 });
  }
  if (r.status) {
    const s = r.status;
    out.push({ section: 'status 50c', what: `GET /v1/tasks/{id}, ${s.tasks} tasks, random ids`, rps: s.rps, p50: s.p50_ms, p99: s.p99_ms, non2xx: err(s), other: s.cpu.otherCores, goal: '≥ 20,000 req/s', met: s.rps >= 20_000 });
    out.push({ section: 'status 50c', what: 'floor: bare Hono GET, fixed task JSON', rps: s.floor.rps, p50: s.floor.p50_ms, p99: s.floor.p99_ms, non2xx: err(s.floor), other: s.floor.cpu.otherCores, value: `reelroute = ${((s.rps / s.floor.rps) * 100).toFixed(1)}% of floor` });
  }
  if (r.tracking) {
    const t = r.tracking;
    out.push({ section: 'tracking', what: `${t.tasks} in flight: gateway RSS (idle → peak in flight)`, value: `${t.rss_idle_mb} → ${t.rss_inflight_peak_mb} MB (V8 heap ${t.heap_total_idle_mb} → ${t.heap_total_inflight_peak_mb} MB)`, goal: 'RSS ≤ 200 MB', met: t.rss_inflight_peak_mb <= 200 });
    out.push({ section: 'tracking', what: 'polls/s while all in flight', value: `${t.inflight_polls_per_s}/s (CPU: gateway ${t.cpu_pct_inflight.gateway}%, emulator ${t.cpu_pct_inflight.emulator}%)`, other: t.machine_cpu_inflight.otherCores });
    out.push({ section: 'tracking', what: 'time until all settled after upstream completes', value: t.settled ? `${t.settle_s} s (${t.settle_completions_per_s}/s)` : `${t.tasks - t.unsettled_left} of ${t.tasks} settled in ${t.settle_s} s (${t.settle_completions_per_s}/s; all ≈ ${t.settle_extrapolated_s} s)`, met: t.settled ? null : false, other: t.machine_cpu_settling.otherCores });
    out.push({ section: 'tracking', what: 'gateway RSS peak (whole run; V8 heap peak)', value: `${t.rss_peak_mb} MB (${t.heap_total_peak_mb} MB); after GC ${t.rss_after_gc_mb} MB (anon ${t.rss_after_gc_split_mb.anon}, file ${t.rss_after_gc_split_mb.file}), JS heap used ${t.heap_used_after_gc_mb} MB of ${t.heap_total_after_gc_mb}` });
    out.push({ section: 'tracking', what: 'CPU while settling', value: `gateway ${t.cpu_pct_settling.gateway}%, emulator ${t.cpu_pct_settling.emulator}%` });
  }
  if (r.engines) out.push(...enginesLines(r.engines));
  if (r.report) out.push(...reportLines(r.report));
  if (r.probe) out.push(...probeFloodLines(r.probe));
  if (r.upload) out.push(...uploadRssLines(r.upload));
  for (const l of r.ledger ?? []) {
    out.push({ section: 'ledger', what: `hold+settle, ${l.key} key (2 tx each)`, other: l.cpu.otherCores, value: `${l.holds_per_s} holds/s + ${l.settles_per_s} settles/s (${l.transactions_per_s} tx/s)` });
  }
  if (r.status_profile) {
    out.push({ section: 'profile', what: 'status under --cpu-prof', rps: r.status_profile.load_under_profiler.rps, p50: r.status_profile.load_under_profiler.p50_ms, p99: r.status_profile.load_under_profiler.p99_ms, non2xx: err(r.status_profile.load_under_profiler), other: r.status_profile.load_under_profiler.cpu.otherCores });
  }
  if (r.profile) {
    out.push({ section: 'profile', what: '(c) under --cpu-prof, emulator in its own process', rps: r.profile.load_under_profiler.rps, p50: r.profile.load_under_profiler.p50_ms, p99: r.profile.load_under_profiler.p99_ms, non2xx: err(r.profile.load_under_profiler), other: r.profile.load_under_profiler.cpu.otherCores });
  }
  return out;
}

const cell = (v: unknown) => (v === undefined ? '' : String(v));
const mark = (m: boolean | null | undefined) => (m === true ? 'met' : m === false ? 'MISSED' : '');

function textTable(ls: Line[]): string {
  const head = ['section', 'what', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'other cores', 'value', 'goal', ''];
  const rows = ls.map((l) => [l.section, l.what, cell(l.rps), cell(l.p50), cell(l.p99), cell(l.non2xx), cell(l.other), cell(l.value), cell(l.goal), mark(l.met)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ');
  return [fmt(head), w.map((n) => '─'.repeat(n)).join('  '), ...rows.map(fmt)].join('\n');
}

function mdTable(ls: Line[]): string {
  return [
    '| section | what | req/s | p50 ms | p99 ms | non-2xx | other cores | value | goal | |',
    '|---|---|---:|---:|---:|---:|---:|---|---|---|',
    ...ls.map((l) => `| ${l.section} | ${l.what} | ${cell(l.rps)} | ${cell(l.p50)} | ${cell(l.p99)} | ${cell(l.non2xx)} | ${cell(l.other)} | ${cell(l.value)} | ${cell(l.goal)} | ${mark(l.met)} |`),
  ].join('\n');
}

function markdown(r: any, table: string): string {
  const parts = [
    '# reelroute bench — latest run',
    '',
    `${r.meta.date} · Node ${r.meta.node} · ${r.meta.cpus} × ${r.meta.cpu_model} · commit ${r.meta.commit}${r.meta.uncommitted.length ? ` + ${r.meta.uncommitted.length} uncommitted changes under src/, providers/, migrations/ (listed in latest.json)` : ''} · total ${r.meta.total_s} s`,
    '',
    table,
    '',
    '## Layout and method',
    '',
    '- **other cores**: CPU used by processes outside the bench during that measurement (/proc/stat busy time minus the bench’s own processes), in cores. The machine has 2; anything well above 0 means the row was measured on a shared, busy machine and understates throughput.',
  ];
  if (r.submit) parts.push(`- **submit / added latency**: ${r.submit.layout}`, ...r.submit.notes.map((n: string) => `  - ${n}`));
  if (r.submit) parts.push('- Latency percentiles come from every 2xx response’s own hrtime duration (autocannon’s histogram keeps whole ms only); req/s counts 2xx only.');
  if (r.status) parts.push(`- **status**: one gateway child over a fresh SQLite file with ${r.status.tasks} completed tasks (bulk-inserted in ${r.status.insert_ms} ms); each request picks a random id. The floor row is a bare Hono app in the same child answering a fixed task object of the same shape (no auth, no DB): the ceiling for any Node/Hono server on this machine.`);
  if (r.tracking) {
    const t = r.tracking;
    parts.push(
      `- **tracking**: ${t.layout}. ${t.tasks} upstream tasks created in the emulator's state (${t.emulator_create_ms} ms) and ${t.tasks} matching task+attempt rows in the gateway DB (${t.db_insert_ms} ms); polling ${JSON.stringify(t.polling)}; emulator queue_ms 0 (its queued-status answer scans all tasks), run_ms 1 h, then \`POST /__emulator/faults {run_ms: 0, queue_ms: 0}\`. ${t.polled_at_least_once_in_window} tasks were polled at least once in the ${TRACK_INFLIGHT_S} s in-flight window. Settling may take at most ${t.settle_limit_s} s (what was left of the run's budget); ${t.settled ? 'all settled' : `NOT all settled: ${t.unsettled_left} left, so the time shown is extrapolated from the rate seen`}. End statuses: ${JSON.stringify(t.by_status)}. RSS is read from /proc/<pid>/status (VmRSS, VmHWM for the peak); one forced GC at the end separates retained memory from garbage.`,
    );
  }
  if (r.engines) parts.push(...enginesNotes(r.engines));
  if (r.ledger) parts.push('- **ledger**: `hold` then `settle` (charge 4 of 5 units, refund 1), each in its own `store.transaction`, tight loop in the bench process on a temp DB.');
  for (const p of [r.profile, r.status_profile]) {
    if (!p) continue;
    parts.push(
      '',
      `## CPU profile of the ${p.kind} path`,
      '',
      `${p.layout}. ${p.load_under_profiler.rps} req/s under the profiler. File: \`${p.file}\` (gitignored); analysed ${p.windowed_to_load ? 'over the measured load window only' : 'over the whole profile'} with \`bench/profile-analyze.ts\`.`,
      '',
      profileMarkdown(p.summary),
      '**Who causes the hottest native/internal frames** (nearest project frame up the stack)',
      '',
      ...p.callers.map((c: any) => `- \`${c.frame}\` ${c.totalMs} ms: ${c.ownFrame.map((o: any) => `${o.name} ${o.pct}%`).join('; ')}`),
    );
  }
  return parts.join('\n') + '\n';
}

async function main() {
  const started = RUN_STARTED;
  mkdirSync(RESULTS, { recursive: true });
  let commit = 'unknown';
  let dirty: string[] = [];
  try {
    // Read-only git queries: which tree was measured (src/ may carry uncommitted edits).
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'providers', 'migrations'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    /* not a checkout */
  }
  const result: any = {
    meta: { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu_model: cpus()[0]?.model ?? '?', loadavg_start: loadavg(), commit, uncommitted: dirty },
  };
  // Tracking runs last: its settling phase gets whatever is left of the run's time budget.
  if (ONLY.has('submit')) result.submit = await benchSubmit();
  if (ONLY.has('status')) result.status = await benchStatus();
  if (ONLY.has('engines')) {
    result.engines = await benchEngines(log);
    enginesS = result.engines.section_s;
  }
  if (ONLY.has('ledger')) {
    log(`ledger: hold+settle for ${LEDGER_S}s per key kind`);
    result.ledger = [await benchLedger('postpaid'), await benchLedger('prepaid')];
  }
  if (ONLY.has('profile')) result.profile = await benchProfile('submit');
  if (ONLY.has('status-profile')) result.status_profile = await benchProfile('status');
  if (ONLY.has('probe') || !process.env.BENCH_ONLY) result.probe = await benchProbeFlood();
  if (ONLY.has('upload') || !process.env.BENCH_ONLY) result.upload = await benchUploadRss();
  if (ONLY.has('report')) result.report = await benchReport();
  if (ONLY.has('tracking')) result.tracking = await benchTracking(TRACK_N);
  result.meta.total_s = Math.round((Date.now() - started) / 1000);

  const ls = lines(result);
  const text = textTable(ls);
  process.stdout.write(`\n${text}\n\n`);
  if (result.profile) {
    process.stdout.write('Top self time in the gateway under submit load:\n');
    for (const [i, row] of result.profile.summary.topFunctions.entries()) process.stdout.write(`  ${String(i + 1).padStart(2)}. ${row.pct.toFixed(1).padStart(5)}%  ${row.name}\n`);
  }
  // A partial run (BENCH_ONLY) never replaces the full run's results.
  const base = process.env.BENCH_ONLY ? 'partial' : 'latest';
  result.meta.sections = [...ONLY];
  writeFileSync(join(RESULTS, `${base}.json`), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(RESULTS, `${base}.md`), markdown(result, mdTable(ls)));
  process.stdout.write(`\nwrote bench/results/${base}.json and bench/results/${base}.md (${result.meta.total_s} s)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
