/**
 * `npm run db:copy -- --from ./data/reelroute.db --to postgres://user@host/db`: copy a stopped
 * gateway's SQLite database into an empty PostgreSQL database, the move from one node to replicas
 * (docs/deployment.md). The target is migrated first, then filled in one transaction, table by table
 * in foreign-key order, in batches. spend_daily is not copied: PostgreSQL's triggers on `tasks`
 * rebuild it from the copied tasks, and the check compares it with SQLite's row for row. Nothing is
 * committed unless row counts, key balances, ledger sums and the rollup all match.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { getTableColumns, getTableName, sql, type Table } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type pg from 'pg';
import { openDb, type DbHandle } from '../src/db/client.ts';
import { dbLocation } from '../src/db/location.ts';
import { clientSql, migratePostgres, openPool, redactUrl } from '../src/db/postgres/client.ts';
import * as pgSchema from '../src/db/postgres/schema/index.ts';
import * as liteSchema from '../src/db/schema/index.ts';
import type { Sql } from '../src/db/postgres/sql.ts';

/** Every table but spend_daily, parents before children (tasks before attempts, keys before both). */
const TABLES = [
  'apiKeys',
  'tasks',
  'attempts',
  'ledgerEntries',
  'elements',
  'callbackDeliveries',
  'idempotencyKeys',
  'providerOverrides',
  'auditLog',
  'dashboardSessions',
  'files',
  'mirrorJobs',
  'providerHealth',
] as const satisfies readonly (keyof typeof pgSchema & keyof typeof liteSchema)[];

/** Identity columns whose sequences must start past the ids the copy kept. */
const IDENTITY_TABLES = ['ledger_entries', 'audit_log'];

/** Rollup columns compared between the engines (the key columns first). */
const SPEND_COLUMNS = ['day', 'key_id', 'model', 'provider', 'tasks', 'completed', 'failed', 'cancelled', 'billable_units', 'reserved_micros', 'charged_micros', 'refunded_micros', 'upstream_cost_micros'];

/** PostgreSQL takes at most 65,535 parameters in one statement. */
const MAX_PARAMS = 60_000;

/** The copy was refused or its check failed; the target was left as it was. */
export class CopyRefused extends Error {}

export interface CopyOptions {
  /** The SQLite file of a stopped gateway. */
  from: string;
  /** A `postgres://` URL of an empty (or not yet migrated) database. */
  to: string;
  /** Rows per INSERT statement at most (default 500). */
  batchSize?: number;
}

/** What was copied and checked. */
export interface CopySummary {
  /** Rows per table (SQL names), in copy order. */
  rows: Record<string, number>;
  /** Keys whose balance and ledger sum were compared. */
  keys: number;
  /** Non-empty spend_daily rows compared. */
  spendRows: number;
  ms: number;
}

/** Copy `from` into `to`, check it, and commit; throws CopyRefused when the target is not empty or a check fails. */
export async function copySqliteToPostgres(opts: CopyOptions): Promise<CopySummary> {
  const started = performance.now();
  const target = dbLocation(opts.to);
  if (target.engine !== 'postgres') throw new CopyRefused(`--to must be a postgres:// or postgresql:// URL, not ${opts.to}`);
  const source = dbLocation(opts.from);
  if (source.engine !== 'sqlite' || source.path === ':memory:') throw new CopyRefused(`--from must be a SQLite file, not ${opts.from}`);
  // openDb would create a missing file and copy nothing.
  if (!existsSync(source.path)) throw new CopyRefused(`--from: no SQLite database at ${source.path}`);
  const batchSize = opts.batchSize ?? 500;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new CopyRefused(`--batch-size must be a positive integer, not ${opts.batchSize}`);
  checkSchemasMatch();

  // Migrated as a gateway start would: the copy reads the current schema.
  const lite = openDb(source.path);
  const pool = openPool(target.url, { max: 1, applicationName: 'reelroute-db-copy' });
  try {
    await migratePostgres(pool);
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      // One read transaction on SQLite: every batch reads the same snapshot.
      lite.sqlite.exec('BEGIN');
      await client.query('BEGIN');
      try {
        const q = clientSql(client);
        await refuseUnlessEmpty(q);
        const rows = await copyTables(lite, client, batchSize);
        for (const table of IDENTITY_TABLES) {
          await q.row(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), coalesce(max(id), 0) + 1, false) FROM ${table}`);
        }
        const checked = await verify(lite, q);
        await client.query('COMMIT');
        return { rows, ...checked, ms: Math.round(performance.now() - started) };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        lite.sqlite.exec('COMMIT');
      }
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  } finally {
    await pool.end();
    lite.close();
  }
}

/** The two schemas must name the same columns, or rows would lose fields on the way. */
function checkSchemasMatch(): void {
  for (const name of TABLES) {
    const a = Object.keys(getTableColumns(liteSchema[name] as Table)).sort().join(',');
    const b = Object.keys(getTableColumns(pgSchema[name] as Table)).sort().join(',');
    if (a !== b) throw new Error(`${name}: the SQLite and PostgreSQL schemas differ (${a} vs ${b}); db:copy needs them column for column`);
  }
}

/** Every table must be empty, spend_daily too; the lock makes a second copy running now wait, then refuse. */
async function refuseUnlessEmpty(q: Sql): Promise<void> {
  await q.exec('LOCK TABLE api_keys, tasks IN SHARE ROW EXCLUSIVE MODE');
  const names = [...TABLES.map(sqlName), 'spend_daily'];
  const counts = await q.rows<{ t: string; n: number }>(names.map((t) => `SELECT '${t}' AS t, count(*)::int8 AS n FROM ${t}`).join(' UNION ALL '));
  const full = counts.filter((c) => c.n > 0);
  if (full.length > 0) {
    const list = full.map((c) => `${c.t}: ${c.n}`).join(', ');
    throw new CopyRefused(`the target database is not empty (${list}); db:copy only fills an empty database — create a new one, or drop this one's tables`);
  }
}

function sqlName(name: (typeof TABLES)[number]): string {
  return getTableName(pgSchema[name] as Table);
}

/** Table by table, batch by batch: SQLite rows in rowid order, inserted with the same column keys. */
async function copyTables(lite: DbHandle, client: pg.PoolClient, batchSize: number): Promise<Record<string, number>> {
  const pdb = drizzle({ client });
  const rows: Record<string, number> = {};
  for (const name of TABLES) {
    const from = liteSchema[name] as SQLiteTable;
    const to = pgSchema[name] as PgTable;
    const columns = getTableColumns(from);
    const perBatch = Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMS / Object.keys(columns).length)));
    let after = 0;
    let copied = 0;
    for (;;) {
      // Keyset on rowid (every drizzle SQLite table has one): each batch is one indexed range read.
      const batch = lite.db
        .select({ ...columns, rowid__: sql<number>`rowid` })
        .from(from)
        .where(sql`rowid > ${after}`)
        .orderBy(sql`rowid`)
        .limit(perBatch)
        .all() as Record<string, unknown>[];
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!.rowid__ as number;
      const values = batch.map(({ rowid__: _, ...row }) => row);
      await pdb.insert(to).values(values as never);
      copied += batch.length;
    }
    rows[sqlName(name)] = copied;
  }
  return rows;
}

/** Row counts, key balances, per-key ledger sums and the spend rollup, SQLite against PostgreSQL. */
async function verify(lite: DbHandle, q: Sql): Promise<{ keys: number; spendRows: number }> {
  const problems: string[] = [];
  for (const t of TABLES.map(sqlName)) {
    const a = (lite.sqlite.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    const b = (await q.row<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${t}`))!.n;
    if (a !== b) problems.push(`${t}: ${a} rows in SQLite, ${b} in PostgreSQL`);
  }
  // Per key: its balance (null when post-paid) and the sum of its ledger deltas.
  const keySql = (cast: string) =>
    `SELECT k.id, k.balance_micros AS balance, coalesce((SELECT sum(l.balance_delta_micros) FROM ledger_entries l WHERE l.key_id = k.id), 0)${cast} AS ledger FROM api_keys k ORDER BY k.id`;
  const liteKeys = lite.sqlite.prepare(keySql('')).all() as { id: string; balance: number | null; ledger: number }[];
  const pgKeys = await q.rows<{ id: string; balance: number | null; ledger: number }>(keySql('::int8'));
  problems.push(...diff('key', liteKeys, pgKeys, (k) => k.id));
  // The rollup from SQLite's triggers against the one PostgreSQL's built. A row summing to zero (left
  // behind when a task moved to another provider) carries nothing; only SQLite's history has them.
  const nonZero = `${SPEND_COLUMNS.slice(4).join(' <> 0 OR ')} <> 0`;
  const spendSql = `SELECT ${SPEND_COLUMNS.join(', ')} FROM spend_daily WHERE ${nonZero}`;
  const liteSpend = lite.sqlite.prepare(spendSql).all() as Record<string, unknown>[];
  const pgSpend = await q.rows<Record<string, unknown>>(spendSql);
  const spendKey = (r: Record<string, unknown>) => SPEND_COLUMNS.slice(0, 4).map((c) => r[c]).join(' / ');
  problems.push(...diff('spend_daily', liteSpend, pgSpend, spendKey));
  if (problems.length > 0) {
    throw new CopyRefused(`the copy does not match its source, nothing was committed: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`);
  }
  return { keys: liteKeys.length, spendRows: liteSpend.length };
}

/** What differs between two row sets keyed by `key` (values compared as JSON). */
function diff<R>(what: string, lite: R[], pg: R[], key: (r: R) => string): string[] {
  const theirs = new Map(pg.map((r) => [key(r), JSON.stringify(r)]));
  const out: string[] = [];
  for (const r of lite) {
    const k = key(r);
    const mine = JSON.stringify(r);
    if (theirs.get(k) !== mine) out.push(`${what} ${k}: SQLite ${mine}, PostgreSQL ${theirs.get(k) ?? 'missing'}`);
    theirs.delete(k);
  }
  for (const [k, row] of theirs) out.push(`${what} ${k}: only in PostgreSQL ${row}`);
  return out;
}

/** The one line the command prints. */
export function summaryLine(s: CopySummary, from: string, to: string): string {
  const total = Object.values(s.rows).reduce((a, b) => a + b, 0);
  const tables = Object.entries(s.rows).map(([t, n]) => `${t} ${n}`).join(', ');
  return `db:copy: ${total} rows from ${from} to ${redactUrl(to)} in ${(s.ms / 1000).toFixed(1)} s (${tables}); verified row counts, ${s.keys} key balances and ledger sums, ${s.spendRows} spend_daily rows`;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('db:copy')
    .description('Copy a stopped gateway\'s SQLite database into an empty PostgreSQL database, then verify it.')
    .requiredOption('--from <path>', 'the SQLite database file (the gateway must be stopped)')
    .requiredOption('--to <url>', 'postgres://user@host/db of an empty database')
    .option('--batch-size <n>', 'rows per INSERT statement', (v) => Number(v), 500)
    .parse(argv);
  const o = program.opts<{ from: string; to: string; batchSize: number }>();
  try {
    const summary = await copySqliteToPostgres({ from: o.from, to: o.to, batchSize: o.batchSize });
    console.log(summaryLine(summary, o.from, o.to));
  } catch (err) {
    const message = err instanceof CopyRefused ? err.message : `failed, nothing was committed: ${(err as Error).message}`;
    console.error(`db:copy: ${message}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv);
