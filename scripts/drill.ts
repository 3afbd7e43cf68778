/**
 * `npm run drill` (issue 5 §7): the real gateway process behind emulated kie, Replicate, EvoLink and
 * fal upstreams (real clock, the providers' own prices), ~1,000 tasks with mixed fates (complete,
 * provider-side failure that fails over, failure everywhere, input rejection, cancel; create faults:
 * 5xx/429 and accept-then-reset), callbacks to a receiver that fails the first tries, and three
 * SIGKILLs at random moments with restarts on the same database (one mid-create, one mid-mirror, each
 * cutting an upload short). Some tasks use uploaded clips; outputs are mirrored (issue 9 #7). Then it
 * waits (bounded) for everything to settle and checks that nothing was lost: every task terminal, the
 * money balanced per task and per key (API and ledger), no second upstream create, every callback
 * delivered with one webhook-id per task event, no half upload visible, every completed task's result
 * URLs served by the gateway, and each provider's emulator statement reconciled by the gateway with
 * no unexplained difference (issue 11 #3; one line per provider is printed).
 *
 *   npm run drill -- [--tasks 1000] [--kills 3] [--seed N] [--window-ms 10000] [--settle-ms 90000]
 *                    [--concurrency 32] [--replicas 1] [--db sqlite|postgres] [--verbose] [--keep]
 *
 * `--replicas 3 --db postgres`: the same drill on three gateway processes sharing one PostgreSQL
 * database (made fresh on the server REELROUTE_DRILL_PG_URL names, else on one the drill starts and
 * stops) and one files folder (`files.shared: true`); clients go round robin to the replicas, each
 * kill strikes one replica while the others serve (drill-fleet.ts says how public_base_url is read).
 *
 * Prints one summary line (details of any failure above it) and exits non-zero on any loss.
 * `runDrill()` is the same drill as a function (test/integration/drill.test.ts runs a small one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkResults, listFiles, uploadClips } from './drill-files.ts';
import type { DrillEngine } from './drill-db.ts';
import { startFleet, type Fleet } from './drill-fleet.ts';
import { Gate, call, runLoad } from './drill-load.ts';
import { killPoints, makePlan } from './drill-plan.ts';
import { reconcileAll } from './drill-reconcile.ts';
import { settle } from './drill-settle.ts';
import { DRILL_PROVIDERS, startUpstreams, type Upstreams } from './drill-upstreams.ts';
import { verify, type Area } from './drill-verify.ts';

export interface DrillOptions {
  tasks?: number;
  /** Gateway processes (replicas); more than one needs `db: 'postgres'`. Default 1. */
  replicas?: number;
  /** The engine: `sqlite` (default with one process) or `postgres` (default with replicas). */
  db?: DrillEngine;
  /** A PostgreSQL server URL to make the drill's database on (default: a server started for the drill). */
  pgUrl?: string;
  kills?: number;
  seed?: number;
  /** Submits are spread over at least this long (ms). Default 10 ms per task, at least 5 s. */
  windowMs?: number;
  /** How long to wait for everything to settle after the load, ms. */
  settleTimeoutMs?: number;
  /** Submit requests in flight at most. */
  concurrency?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Kill only between submits (except the mid-create kills below). */
  killBetweenSubmits?: boolean;
  /** The first this many kills catch creates on their way upstream (attempts left `submitting`). Default 1. */
  midCreateKills?: number;
  /** The next this many kills catch the gateway mirroring an output. Default 1. */
  midMirrorKills?: number;
  /** Completed tasks whose result URLs are fetched (default: all). */
  resultSample?: number;
  /** Called after the gateway stopped, before the checks: lets a self-test break things to see them caught. */
  tamper?: (t: { dbPath: string; upstreams: Upstreams }) => void;
  /** Keep the temp folder (config, database) even when the drill passes. */
  keep?: boolean;
}

export interface DrillResult {
  ok: boolean;
  engine: DrillEngine;
  replicas: number;
  summary: string;
  /** What failed, one line each (empty when ok). */
  details: string[];
  /** Informational lines: fates vs ends, upstream create accounting, kills. */
  notes: string[];
  seed: number;
  tasks: number;
  kills: number;
  /** Attempts left `submitting` by the killed processes, summed over the kills. */
  submittingAtKills: number;
  status: Record<string, number>;
  deliveries: number;
  missingCallbacks: number;
  /** Task events whose callback was answered 2xx more than once (at least once is the promise; these are counted). */
  duplicateCallbacks: number;
  /** One line per provider: its emulator's statement reconciled by the gateway. */
  reconciliation: string[];
  /** Result URLs fetched and served (200, MP4). */
  resultUrls: number;
  /** Outputs being mirrored when a kill struck (their mirror had to resume). */
  midMirror: number;
  durationMs: number;
  /** The temp folder, when kept. */
  dir: string | null;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_KEY = 'rr_admin_drill';
const BALANCE_USD = 100_000;
const SHOWN_PER_AREA = 15;

export async function runDrill(opts: DrillOptions = {}): Promise<DrillResult> {
  const started = Date.now();
  const tasks = opts.tasks ?? 1_000;
  const kills = opts.kills ?? 3;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const windowMs = opts.windowMs ?? Math.max(5_000, tasks * 10);
  const log = opts.log ?? (() => undefined);
  const replicas = opts.replicas ?? 1;
  const engine = opts.db ?? (replicas > 1 ? 'postgres' : 'sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'reelroute-drill-'));
  const plan = makePlan(tasks, seed, DRILL_PROVIDERS.length);
  const upstreams = await startUpstreams(plan);
  const details: string[] = [];
  const notes: string[] = [`seed ${seed}; temp folder ${dir}`];
  const who = `${engine}, ${replicas > 1 ? `${replicas} replicas` : '1 process'}`;
  let fleet: Fleet | null = null;
  let ok = false;
  try {
    fleet = await startFleet({ engine, replicas, root: ROOT, dir, adminKey: ADMIN_KEY, emulators: upstreams.emulators, pgUrl: opts.pgUrl, log });
    const { publicBase, filesDir, location } = fleet;
    const gate = new Gate();
    await fleet.start(gate);
    const created = await call(await gate.wait(), 'POST', '/admin/keys', ADMIN_KEY, { name: 'drill', balance_usd: BALANCE_USD });
    if (created.status < 200 || created.status > 299) throw new Error(`POST /admin/keys answered ${created.status}: ${JSON.stringify(created.body)}`);
    const key = created.body as { id: string; key: string; webhook_secret: string };
    upstreams.receiver.setSecret(key.webhook_secret);
    const refLengths = [...new Set(plan.filter((t) => t.upload).map((t) => t.refS))].sort((a, b) => a - b);
    const uploads = await uploadClips(() => gate.wait(), key.key, refLengths);

    const killAt = killPoints(kills, seed, tasks);
    log(`load: ${tasks} tasks over ${windowMs / 1000} s, kills after submit ${killAt.map((k) => `${k.afterSubmits}+${k.jitterMs} ms`).join(', ')}${replicas > 1 ? ` on ${replicas} replicas (${engine})` : ''}`);
    const load = await runLoad({ plan, key: key.key, gate, gateways: fleet.gateways, seed, upstreams, windowMs, concurrency: opts.concurrency ?? 32, killAt, killBetweenSubmits: opts.killBetweenSubmits ?? false, midCreateKills: opts.midCreateKills ?? 1, midMirrorKills: opts.midMirrorKills ?? 1, uploads, filesDir, log });
    const lost = [...load.submits.values()].filter((s) => s.kind === 'lost').length;
    const refused = [...load.submits.values()].filter((s) => s.kind === 'http_error');
    notes.push(
      `kills: ${load.kills.map((k) => `${(k.atMs / 1000).toFixed(1)} s (${replicas > 1 ? `replica ${k.replica + 1}, ` : ''}${k.submitsInFlight} submits in flight, ${k.submittingAttempts} attempts submitting, down ${k.downMs} ms)`).join('; ') || 'none'}`,
      `submits: ${load.submits.size - lost - refused.length} answered 200, ${lost} lost with the process, ${refused.length} refused (${[...new Set(refused.map((r) => (r.kind === 'http_error' ? `${r.status} ${r.code}` : '')))].join(', ') || '-'}); ${load.retried} lost submits retried with their Idempotency-Key (${[...load.submits.values()].filter((s) => s.kind === 'ok' && s.retried).length} answered 200); ${load.faultsQueued} create faults queued${replicas > 1 ? `; ${load.inUse} retries answered 409 in use and were sent again later` : ''}`,
      `cancels: ${JSON.stringify(countBy([...load.cancels.values()]))}`,
      `submit answer times: ${percentiles([...load.submits.values()].filter((s) => s.kind !== 'lost').map((s) => s.ms))}; lost: ${JSON.stringify(countBy([...load.submits.values()].flatMap((s) => (s.kind === 'lost' ? [s.error] : []))))}`,
    );
    log(`load done after ${((Date.now() - started) / 1000).toFixed(1)} s; settling`);

    const settled = await settle({ gate, key: key.key, plan, submits: load.submits, receiver: upstreams.receiver, timeoutMs: opts.settleTimeoutMs ?? 90_000, log });
    notes.push(`settled in ${(settled.waitedMs / 1000).toFixed(1)} s${settled.timedOut ? ' (TIMED OUT)' : ''}`);
    const keys = await call(await gate.wait(), 'GET', '/admin/keys', ADMIN_KEY);
    const apiBalanceUsd = (keys.body?.data as Array<{ id: string; balance_usd: number | null }> | undefined)?.find((k) => k.id === key.id)?.balance_usd ?? null;
    const base = await gate.wait();
    const filesProblems: string[] = [];
    const listed = await listFiles(base, key.key);
    const strayUploads = listed.filter((f) => f.purpose === 'upload' && ![...uploads.values()].some((u) => u.id === f.id));
    if (strayUploads.length) filesProblems.push(`GET /v1/files lists uploads the drill never finished: ${strayUploads.map((f) => `${f.id} (${f.bytes} bytes)`).join(', ')}`);
    const results = await checkResults(settled.tasks, publicBase, opts.resultSample, replicas > 1 ? () => gate.wait() : undefined);
    filesProblems.push(...results.problems);
    const midMirrorTasks = settled.tasks.filter((t) => t.attempts.some((a) => a.upstream_id !== null && load.midMirror.has(`${a.provider} ${a.upstream_id}`)));
    for (const t of midMirrorTasks) if (t.status !== 'completed') filesProblems.push(`task ${t.id}: killed mid-mirror, ended ${t.status}`);
    if (load.kills.some((k) => k.heldMirrors > 0) && midMirrorTasks.length === 0) filesProblems.push('outputs were held at a kill, but no task owns them');
    if (replicas > 1) notes.push(`files: ${load.tempLeft} half uploads left in the shared temp folder (a start sweeps only parts over an hour old there)`);
    notes.push(`files: ${uploads.size} clips uploaded (used by ${plan.filter((t) => t.upload).length} tasks), ${load.kills.filter((k) => k.halfUpload).length} kills mid-upload, ${load.midMirror.size} outputs mid-mirror at a kill (tasks ${midMirrorTasks.map((t) => `${t.id} ${t.status}`).join(', ') || 'none'}), ${listed.filter((f) => f.purpose === 'output').length} mirrored outputs listed, ${results.urls} result URLs fetched from ${results.checked} completed tasks`);
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const recon = await reconcileAll(base, ADMIN_KEY, upstreams, settled, location, day(started), day(Date.now()));
    const reconProblems = recon.flatMap((r) => r.problems.map((p) => `${r.provider}: ${p}`));
    const upstreamStats = new Map<string, number>();
    for (const e of upstreams.emulators) {
      const stats = (await (await fetch(`${e.emulator.url}/__emulator/stats`, { signal: AbortSignal.timeout(10_000) })).json()) as { tasks_created: number };
      upstreamStats.set(e.provider.id, stats.tasks_created);
    }
    await fleet.stop();
    opts.tamper?.({ dbPath: location, upstreams });

    const verdict = await verify({ location, keyId: key.id, initialBalanceMicros: BALANCE_USD * 1e6, apiBalanceUsd, plan, submits: load.submits, settled, upstreams, upstreamStats });
    const problems: Record<Area | 'run' | 'files' | 'reconciliation', string[]> = { run: [...load.problems, ...fleet.errors()], ...verdict.problems, files: filesProblems, reconciliation: reconProblems };
    if (settled.timedOut) problems.run.push(`not settled after ${settled.waitedMs} ms: ${settled.nonTerminal} tasks not ended, ${settled.callbacksOwed} callbacks owed`);
    if (load.kills.length !== kills) problems.run.push(`${load.kills.length} of ${kills} kills done`);
    for (const [area, lines] of Object.entries(problems)) {
      for (const line of lines.slice(0, SHOWN_PER_AREA)) details.push(`${area}: ${line}`);
      if (lines.length > SHOWN_PER_AREA) details.push(`${area}: … and ${lines.length - SHOWN_PER_AREA} more`);
    }
    notes.push(...verdict.notes, `peak ${verdict.peakInFlight} tasks open at once; ${verdict.recovered} tasks found by listing after their submit answer was lost`);
    ok = details.length === 0;

    const s = verdict.status;
    const other = Object.entries(s).filter(([k]) => !['completed', 'failed', 'cancelled'].includes(k));
    const area = (a: Area | 'files' | 'reconciliation') => (problems[a].length ? `${a} FAILED (${problems[a].length})` : `${a} ok`);
    const summary =
      `drill (${who}): ${tasks} tasks${verdict.created !== tasks ? ` (${verdict.created} created)` : ''}, ${load.kills.length} kills${replicas > 1 ? ` (replicas ${load.kills.map((k) => k.replica + 1).join(', ')})` : ''}, ` +
      `completed ${s.completed ?? 0} failed ${s.failed ?? 0} cancelled ${s.cancelled ?? 0}${other.map(([k, n]) => ` ${k} ${n}`).join('')}, ` +
      `${problems.tasks.length || problems.run.length ? `tasks FAILED (${problems.tasks.length + problems.run.length}), ` : ''}` +
      `${area('ledger')}, ${area('creates')}, ${area('callbacks')} (${verdict.deliveries} deliveries, ${verdict.missingCallbacks} missing, ${verdict.duplicateCallbacks} duplicates), ` +
      `${area('files')} (${load.kills.filter((k) => k.halfUpload).length} half uploads, ${load.midMirror.size} mirrors resumed, ${results.urls} result URLs served), ` +
      `${area('reconciliation')} (${recon.length} providers, ${recon.reduce((n, r) => n + r.matched, 0)} lines matched, difference ${recon.map((r) => r.differenceUsd).join('/')} USD, all of it ${recon.reduce((n, r) => n + r.lostCreates, 0)} lost creates, unexplained ${recon.map((r) => r.unexplainedUsd).join('/')}), ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s`;
    const submittingAtKills = load.kills.reduce((n, k) => n + k.submittingAttempts, 0);
    return { ok, engine, replicas, summary, details, notes, seed, tasks, kills: load.kills.length, submittingAtKills, status: s, deliveries: verdict.deliveries, missingCallbacks: verdict.missingCallbacks, duplicateCallbacks: verdict.duplicateCallbacks, reconciliation: recon.map((r) => r.line), resultUrls: results.urls, midMirror: load.midMirror.size, durationMs: Date.now() - started, dir: ok && !opts.keep ? null : dir };
  } catch (err) {
    details.push(`run: ${(err as Error).stack ?? String(err)}`, ...(fleet?.errors() ?? []).map((e) => `run: ${e}`));
    const summary = `drill (${who}): ${tasks} tasks, aborted: ${(err as Error).message}, ${((Date.now() - started) / 1000).toFixed(0)} s`;
    return { ok: false, engine, replicas, summary, details, notes, seed, tasks, kills: 0, submittingAtKills: 0, status: {}, deliveries: 0, missingCallbacks: 0, duplicateCallbacks: 0, reconciliation: [], resultUrls: 0, midMirror: 0, durationMs: Date.now() - started, dir };
  } finally {
    await fleet?.close(!ok || opts.keep);
    await upstreams.close();
    if (ok && !opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

function percentiles(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): DrillOptions & { verbose: boolean } {
  const flag = (name: string) => argv.includes(`--${name}`);
  const num = (name: string, envName: string): number | undefined => {
    const i = argv.indexOf(`--${name}`);
    const raw = i >= 0 ? argv[i + 1] : (argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? env[envName]);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a number: ${raw}`);
    return n;
  };
  const i = argv.indexOf('--db');
  const db = i >= 0 ? argv[i + 1] : (argv.find((a) => a.startsWith('--db='))?.split('=')[1] ?? env.DRILL_DB);
  if (db !== undefined && db !== 'sqlite' && db !== 'postgres') throw new Error(`--db: sqlite or postgres, not ${db}`);
  const replicas = num('replicas', 'DRILL_REPLICAS');
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1)) throw new Error(`--replicas: a whole number from 1, not ${replicas}`);
  if ((replicas ?? 1) > 1 && db === 'sqlite') throw new Error('--replicas above 1 needs --db postgres: SQLite is one process on one disk');
  return {
    tasks: num('tasks', 'DRILL_TASKS'),
    replicas,
    db,
    pgUrl: env.REELROUTE_DRILL_PG_URL || undefined,
    kills: num('kills', 'DRILL_KILLS'),
    seed: num('seed', 'DRILL_SEED'),
    windowMs: num('window-ms', 'DRILL_WINDOW_MS'),
    settleTimeoutMs: num('settle-ms', 'DRILL_SETTLE_MS'),
    concurrency: num('concurrency', 'DRILL_CONCURRENCY'),
    keep: flag('keep'),
    verbose: flag('verbose') || env.DRILL_VERBOSE === '1',
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`drill: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const t0 = Date.now();
  if (opts.verbose) opts.log = (line) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
  const result = await runDrill(opts);
  if (opts.verbose || !result.ok) for (const n of result.notes) process.stdout.write(`note: ${n}\n`);
  for (const d of result.details) process.stdout.write(`${d}\n`);
  for (const r of result.reconciliation) process.stdout.write(`${r}\n`);
  process.stdout.write(`${result.summary}\n`);
  process.exit(result.ok ? 0 : 1);
}
