/**
 * Reports at scale (issue 11): `/admin/spend` over 1M tasks (a month, 3 providers, 50 keys, 2
 * models) for several groupings, next to what a plain GROUP BY over the same task rows costs, and
 * the latency of a status read (`GET /v1/tasks/{id}`) made while reports run back to back.
 *
 * The rows are made by one INSERT … SELECT over a recursive counter (all in SQLite's C code), with
 * the rollup triggers live, so the build also shows what the rollup costs at write time.
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import { openStore } from '../src/db/store.ts';
import { createKey } from '../src/keys/keys.ts';
import { plainSpendSql, spendSql, type SpendDimension } from '../src/db/repos/spend.ts';
import { startChild } from './lib/child.ts';
import { ADMIN_KEY } from './lib/constants.ts';
import { prepareDb } from './lib/db.ts';

const N = Number(process.env.BENCH_REPORT_N ?? 1_000_000);
const KEYS = 50;
const DAYS = 30;
const DAY_MS = 86_400_000;
const CONCURRENT_S = 5;
const GROUPINGS: SpendDimension[][] = [[], ['day', 'provider'], ['key'], ['day', 'model'], ['day', 'key', 'model', 'provider']];
/** The plain GROUP BY reference runs the two groupings issue 11 measured (seconds each, so not all). */
const PLAIN = new Set(['day,provider', 'day,key,model,provider']);

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const r1 = (x: number) => Math.round(x * 10) / 10;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0;
};
const median = (xs: number[]) => quantile(xs, 0.5);

function timeMs(fn: () => unknown, runs = 3): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return r1(median(times));
}

/** 1M tasks spread over 30 days of one month, round-robin over keys, providers, statuses. */
async function buildTasks(path: string, firstKeyId: string, monthStart: number): Promise<number> {
  const store = await openStore(path);
  const keyIds = [firstKeyId];
  for (let i = 1; i < KEYS; i++) keyIds.push((await createKey(store, { name: `report-${i}`, balanceMicros: null, dailyBudgetMicros: null, monthlyBudgetMicros: null }, monthStart)).row.id);
  await store.close();
  const db = new Database(path);
  db.exec('CREATE TEMP TABLE bench_keys (n INTEGER PRIMARY KEY, id TEXT NOT NULL)');
  const addKey = db.prepare('INSERT INTO bench_keys VALUES (?, ?)');
  keyIds.forEach((id, n) => addKey.run(n, id));
  const t0 = performance.now();
  db.prepare(
    `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ? - 1),
     r AS (SELECT i, ? + i * ? AS created, 3 + i % 8 AS units, i % 10 AS fate,
                  CASE i % 3 WHEN 0 THEN 'fal-bench' WHEN 1 THEN 'kie-bench' ELSE 'rep-bench' END AS provider,
                  CASE WHEN i % 20 = 0 THEN 'kling-custom-element' ELSE 'kling-v3-motion-control' END AS model FROM s)
     INSERT INTO tasks (id, key_id, model, quality, status, progress, request, billing_rule, billable_units, unit_price_micros,
                        list_priced, reserved_micros, charged_micros, refunded_micros, upstream_cost_micros, provider, created_at, updated_at)
     SELECT printf('task_%013d%07d', created, i), (SELECT id FROM bench_keys WHERE n = i % ${KEYS}), model, '720p',
            CASE WHEN fate < 8 THEN 'completed' WHEN fate = 8 THEN 'failed' ELSE 'cancelled' END, 100, '{}',
            CASE WHEN model = 'kling-custom-element' THEN 'per_request' ELSE 'per_second' END, units, 150000, 1,
            units * 150000, CASE WHEN fate < 8 THEN units * 150000 - 150000 * (i % 2) ELSE 0 END,
            CASE WHEN fate < 8 THEN 150000 * (i % 2) ELSE units * 150000 END,
            CASE WHEN fate < 8 THEN (units - i % 2) * 126000 ELSE 0 END, provider, created, created
     FROM r`,
  ).run(N, monthStart, Math.floor((DAYS * DAY_MS) / N));
  const insertMs = performance.now() - t0;
  db.exec('ANALYZE');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return Math.round(insertMs);
}

async function getMs(url: string, key: string): Promise<{ ms: number; status: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  const body = await res.arrayBuffer();
  return { ms: performance.now() - t0, status: res.status, bytes: body.byteLength };
}

/** Run the report section; returns what `reportLines` prints. */
export async function benchReport() {
  const db = await prepareDb('report');
  const now = new Date();
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
  const from = new Date(monthStart).toISOString().slice(0, 10);
  const to = new Date(monthStart + (DAYS - 1) * DAY_MS).toISOString().slice(0, 10);
  log(`report: building ${N} tasks (${DAYS} days, 3 providers, ${KEYS} keys) with the rollup triggers live`);
  const insertMs = await buildTasks(db.path, db.keyId, monthStart);
  log(`  → ${insertMs} ms`);

  const reader = new Database(db.path, { readonly: true });
  const range = [monthStart, monthStart + DAYS * DAY_MS];
  const rollupRows = (reader.prepare('SELECT COUNT(*) AS n FROM spend_daily').get() as { n: number }).n;
  const probeId = (reader.prepare(`SELECT id FROM tasks WHERE key_id = ? LIMIT 1 OFFSET ${Math.floor(N / KEYS / 2)}`).get(db.keyId) as { id: string }).id;
  const sql = GROUPINGS.map((g) => ({
    grouping: g.join(',') || '(totals)',
    // One run: the plain GROUP BY is the slow reference (seconds), not the subject.
    plain_ms: PLAIN.has(g.join(',')) ? timeMs(() => reader.prepare(plainSpendSql(g)).all(...range), 1) : null,
    rollup_sql_ms: timeMs(() => reader.prepare(spendSql(g)).all(from, to), 5),
  }));
  reader.close();
  for (const s of sql) log(`  ${s.grouping}: rollup SQL ${s.rollup_sql_ms} ms${s.plain_ms === null ? '' : `, plain GROUP BY ${s.plain_ms} ms`}`);

  const child = await startChild({ role: 'gateway', db: db.path, emulatorUrl: 'http://127.0.0.1:9', startPoller: false });
  try {
    const base = child.info.gatewayUrl!;
    const spendUrl = (g: string, fmt = 'json') => `${base}/admin/spend?from=${from}&to=${to}&group_by=${g}&format=${fmt}`;
    const http: { grouping: string; p50_ms: number; max_ms: number; rows_bytes: number }[] = [];
    // The first report starts the report worker thread: not part of what a report costs.
    await getMs(spendUrl(''), ADMIN_KEY);
    for (const g of GROUPINGS) {
      const runs = [];
      for (let i = 0; i < 7; i++) runs.push(await getMs(spendUrl(g.join(',')), ADMIN_KEY));
      if (runs.some((r) => r.status !== 200)) throw new Error(`/admin/spend ${g.join(',')} answered ${runs[0]!.status}`);
      http.push({ grouping: g.join(',') || '(totals)', p50_ms: r1(median(runs.map((r) => r.ms))), max_ms: r1(Math.max(...runs.map((r) => r.ms))), rows_bytes: runs[0]!.bytes });
    }
    const csv = await getMs(spendUrl('day,key,model,provider', 'csv'), ADMIN_KEY);

    // Status reads alone, then while two clients run the heaviest reports back to back.
    const statusUrl = `${base}/v1/tasks/${probeId}`;
    const probe = async (stop: () => boolean) => {
      const ms: number[] = [];
      while (!stop()) {
        const r = await getMs(statusUrl, db.apiKey);
        if (r.status !== 200) throw new Error(`status read answered ${r.status}`);
        ms.push(r.ms);
        await new Promise((res) => setTimeout(res, 5));
      }
      return ms;
    };
    let end = Date.now() + 2_000;
    const idle = await probe(() => Date.now() > end);
    end = Date.now() + CONCURRENT_S * 1000;
    let reports = 0;
    const hammer = async () => {
      for (let i = 0; Date.now() < end; i++) {
        await getMs(spendUrl(i % 2 ? 'day,key,model,provider' : 'day,provider', i % 3 ? 'json' : 'csv'), ADMIN_KEY);
        reports++;
      }
    };
    const [busy] = await Promise.all([probe(() => Date.now() > end), hammer(), hammer()]);
    const result = {
      tasks: N,
      // The machine's load when the numbers were taken: they mean little on a busy machine.
      loadavg: loadavg(),
      insert_ms: insertMs,
      rollup_rows: rollupRows,
      sql,
      http,
      csv_all_dims: { ms: r1(csv.ms), bytes: csv.bytes },
      status_idle: { p50_ms: r1(median(idle)), p99_ms: r1(quantile(idle, 0.99)), max_ms: r1(Math.max(...idle)) },
      status_during_reports: { reads: busy.length, reports, p50_ms: r1(median(busy)), p99_ms: r1(quantile(busy, 0.99)), max_ms: r1(Math.max(...busy)) },
    };
    log(`  http: ${http.map((h) => `${h.grouping} ${h.p50_ms} ms`).join(', ')}; status during reports p99 ${result.status_during_reports.p99_ms} ms`);
    return result;
  } finally {
    await child.exit();
    rmSync(db.dir, { recursive: true, force: true });
  }
}

export type ReportResult = Awaited<ReturnType<typeof benchReport>>;

/** The rows `npm run bench` prints for this section. */
export function reportLines(r: ReportResult) {
  const section = `report ${r.tasks / 1e6}M`;
  const worst = Math.max(...r.http.map((h) => h.max_ms));
  return [
    { section, what: `build ${r.tasks} tasks (INSERT…SELECT, rollup triggers live)`, value: `${r.insert_ms} ms → ${r.rollup_rows} rollup rows; load avg ${r.loadavg.map((l) => l.toFixed(1)).join(' ')}` },
    ...r.sql.flatMap((s) => (s.plain_ms === null ? [] : [{ section, what: `plain GROUP BY over the tasks: ${s.grouping}`, p50: s.plain_ms, value: `same report from the rollup: ${s.rollup_sql_ms} ms (SQL only)` }])),
    ...r.http.map((h) => ({ section, what: `GET /admin/spend ${h.grouping}`, p50: h.p50_ms, value: `max ${h.max_ms} ms of 7, ${h.rows_bytes} bytes`, goal: 'p50 < 200 ms', met: h.p50_ms < 200 })),
    { section, what: 'GET /admin/spend CSV, all four dimensions', p50: r.csv_all_dims.ms, value: `${r.csv_all_dims.bytes} bytes` },
    { section, what: 'status read, idle', p50: r.status_idle.p50_ms, p99: r.status_idle.p99_ms, value: `max ${r.status_idle.max_ms} ms` },
    {
      section,
      what: `status read while 2 clients run reports (${r.status_during_reports.reports} reports)`,
      p50: r.status_during_reports.p50_ms,
      p99: r.status_during_reports.p99_ms,
      value: `max ${r.status_during_reports.max_ms} ms over ${r.status_during_reports.reads} reads; worst report ${worst} ms`,
      goal: 'p99 < 50 ms',
      met: r.status_during_reports.p99_ms < 50,
    },
  ];
}
