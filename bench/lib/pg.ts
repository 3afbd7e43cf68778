/**
 * PostgreSQL for the bench's engine rows: the server (started here with the tests' helper unless
 * REELROUTE_BENCH_PG_URL names one), one fresh database per measurement (migrated by openStore, with
 * the post-paid bench key), bulk task rows (the same rows lib/db.ts writes to SQLite), the CPU the
 * server's processes use, and what its backends are doing (pg_stat_activity samples).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import { attempts, ledgerEntries, tasks } from '../../src/db/postgres/schema/index.ts';
import { openStore } from '../../src/db/store.ts';
import { createKey } from '../../src/keys/keys.ts';
import { databaseUrl, startPostgres } from '../../test/helpers/postgres-server.ts';
import { generateTasks, type BulkOptions } from './db.ts';

/** A server for the run: `stop` is a no-op for one the environment named. */
export interface BenchPostgres {
  url: string;
  external: boolean;
  /** Seconds to initdb + start (0 when external). */
  startS: number;
  stop(): Promise<void>;
}

export async function benchPostgres(log: (line: string) => void): Promise<BenchPostgres> {
  const env = process.env.REELROUTE_BENCH_PG_URL;
  if (env) return { url: env, external: true, startS: 0, stop: async () => {} };
  const t = performance.now();
  const server = await startPostgres(log);
  return { url: server.url, external: false, startS: (performance.now() - t) / 1000, stop: server.stop };
}

async function onAdmin<T>(baseUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the server, migrated, with one post-paid key (as lib/db.ts prepareDb), and `extraKeys` more (in clear). */
export interface PreparedPg {
  url: string;
  keyId: string;
  apiKey: string;
  /** More post-paid keys, in clear. */
  extraKeys: string[];
  drop(): Promise<void>;
}

export async function preparePgDb(baseUrl: string, label: string, extraKeys = 0): Promise<PreparedPg> {
  const name = `bench_${label}_${randomBytes(4).toString('hex')}`;
  await onAdmin(baseUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = databaseUrl(baseUrl, name);
  const store = await openStore(url, { poolSize: 1 });
  try {
    const postpaid = { balanceMicros: null, dailyBudgetMicros: null, monthlyBudgetMicros: null };
    const { row, key } = await createKey(store, { name: `bench-${label}`, ...postpaid }, Date.now());
    const more: string[] = [];
    for (let i = 0; i < extraKeys; i++) more.push((await createKey(store, { name: `bench-${label}-${i}`, ...postpaid }, Date.now())).key);
    return { url, keyId: row.id, apiKey: key, extraKeys: more, drop: () => onAdmin(baseUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}) };
  } finally {
    await store.close();
  }
}

/** Rows of `table` as JSON objects keyed by column name, driver values (booleans stay booleans). */
function toColumns<T extends Table>(table: T, rows: T['$inferInsert'][]): Record<string, unknown>[] {
  const cols = Object.entries(getTableColumns(table));
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [key, c] of cols) {
      const v = (row as Record<string, unknown>)[key];
      if (v !== undefined) out[c.name] = v === null ? null : c.mapToDriverValue(v);
    }
    return out;
  });
}

/** Insert rows in chunks, each as one JSON parameter (json_populate_recordset): few round trips, no COPY dependency. */
async function insertChunked(client: pg.Client, table: Table, rows: Record<string, unknown>[], chunk = 2_000): Promise<void> {
  if (rows.length === 0) return;
  const name = getTableName(table);
  // Only the columns the rows set: the others take the table's own defaults (serial ids included).
  const set = Object.keys(rows[0]!).map((c) => `"${c}"`).join(', ');
  for (let i = 0; i < rows.length; i += chunk) {
    await client.query(`INSERT INTO "${name}" (${set}) SELECT ${set} FROM json_populate_recordset(NULL::"${name}", $1::json)`, [JSON.stringify(rows.slice(i, i + chunk))]);
  }
}

/** The same tasks, attempts and ledger rows lib/db.ts bulkInsertTasks writes. */
export async function bulkInsertTasksPg(db: PreparedPg, o: BulkOptions): Promise<string[]> {
  const rows = { task: [] as (typeof tasks.$inferInsert)[], attempt: [] as (typeof attempts.$inferInsert)[], ledger: [] as (typeof ledgerEntries.$inferInsert)[] };
  const ids = generateTasks(db.keyId, o, { task: (r) => rows.task.push(r), attempt: (r) => rows.attempt.push(r), ledger: (r) => rows.ledger.push(r) });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    // Setup, not measurement: the spend_daily rollup trigger would update one row 100k times in one
    // transaction (quadratic: PostgreSQL cannot prune its own transaction's row versions), so
    // triggers and FK checks are off for the load (superuser only, as on the bench's own server;
    // elsewhere the rows are committed per chunk instead). Status reads never read the rollup.
    let oneTx = true;
    try {
      await client.query("SET session_replication_role = 'replica'");
    } catch {
      oneTx = false;
    }
    if (oneTx) await client.query('BEGIN');
    // Parents first: tasks before the attempts and ledger lines that reference them.
    await insertChunked(client, tasks, toColumns(tasks, rows.task));
    await insertChunked(client, attempts, toColumns(attempts, rows.attempt));
    await insertChunked(client, ledgerEntries, toColumns(ledgerEntries, rows.ledger));
    if (oneTx) await client.query('COMMIT');
    await client.query('ANALYZE');
    return ids;
  } finally {
    await client.end();
  }
}

/**
 * The server's processes on this machine (postmaster + backends + background workers), found by the
 * `-p <port>` on the postmaster's command line; empty for a server elsewhere.
 */
export function serverPids(url: string): number[] {
  const port = new URL(url).port || '5432';
  const ppid = (pid: string) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  };
  const procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  let master: number | undefined;
  for (const p of procs) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('/postgres') && cmd.some((a, i) => (a === '-p' && cmd[i + 1] === port) || a === `-p${port}` || a.includes(`-p ${port}`))) master = Number(p);
    } catch {
      /* gone meanwhile */
    }
  }
  if (master === undefined) return [];
  const out = [master];
  for (const p of procs) {
    try {
      if (ppid(p) === master) out.push(Number(p));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Backends of `db` by state, sampled every `everyMs` until stopped: how often a request waited on a lock vs ran. */
export function sampleActivity(db: string, everyMs = 100) {
  const counts: Record<string, number> = {};
  let samples = 0;
  let stopped = false;
  const client = new pg.Client({ connectionString: db });
  const done = (async () => {
    await client.connect();
    while (!stopped) {
      const { rows } = await client.query<{ what: string; n: string }>(
        `SELECT CASE WHEN state = 'active' AND wait_event_type = 'Lock' THEN 'lock wait'
                     WHEN state = 'active' AND wait_event_type IS NOT NULL THEN 'active, waiting on ' || wait_event_type
                     WHEN state = 'active' THEN 'active on CPU'
                     ELSE coalesce(state, '?') END AS what, count(*) AS n
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          GROUP BY 1`,
      );
      for (const r of rows) counts[r.what] = (counts[r.what] ?? 0) + Number(r.n);
      samples++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
    await client.end();
  })();
  return {
    /** Mean number of backends in each state over the samples. */
    async stop(): Promise<Record<string, number>> {
      stopped = true;
      await done;
      return Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, Math.round((n / Math.max(1, samples)) * 100) / 100]));
    },
  };
}
