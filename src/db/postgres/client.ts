/**
 * The PostgreSQL connection: a `pg` pool with its own type parsers (never the process-wide
 * `pg.types`, which other code may share), the `Sql` runners the repositories use, and the
 * migrations, applied under an advisory lock so that replicas starting together migrate once.
 */
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { packagePath } from '../../paths.ts';
import type { Sql } from './sql.ts';

// From the package root, not this module: the same code also runs bundled from dist/.
const MIGRATIONS = packagePath('migrations/postgres');

/** Session advisory lock held while migrating: "reelrout" in ASCII, read as a big-endian int8. */
const MIGRATION_LOCK = '8243106209422341492';

const INT8 = 20;
const NUMERIC = 1700;
const INT8_ARRAY = 1016;
const NUMERIC_ARRAY = 1231;

/** int8 as a JS number: micro-USD and millisecond times stay far below 2^53; past it, refuse to round. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} does not fit a JavaScript number`);
  return n;
}

function arrayOf(base: (text: string) => unknown, parse: (text: string) => number) {
  return (text: string) => (base(text) as (string | null)[]).map((v) => (v === null ? null : parse(v)));
}

/** pg's defaults (read, never changed), typed by plain oid. */
const defaultParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => (text: string) => unknown;

/** SQLite hands back integers and sums as numbers; so does this pool (int8, numeric and their arrays). */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return defaultParser(oid, format);
    if (oid === INT8) return parseInt8;
    if (oid === NUMERIC) return Number;
    if (oid === INT8_ARRAY) return arrayOf(defaultParser(oid, 'text'), parseInt8);
    if (oid === NUMERIC_ARRAY) return arrayOf(defaultParser(oid, 'text'), Number);
    return defaultParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** How a pool is sized and named. */
export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /** Shown in `pg_stat_activity` (default `reelroute`). */
  applicationName?: string;
  /** Close a connection idle this long, ms (default 30 s). */
  idleTimeoutMillis?: number;
  /**
   * Told about errors of idle connections (the server restarted, a connection was terminated); the
   * pool drops that connection and opens another when needed. Without a listener `pg` would throw
   * them as uncaught.
   */
  onError?: (err: Error) => void;
}

/** A pool on `url` (`postgres://…`). Connecting waits 5 s at most. */
export function openPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    idleTimeoutMillis: opts.idleTimeoutMillis ?? 30_000,
    connectionTimeoutMillis: 5_000,
    application_name: opts.applicationName ?? 'reelroute',
    // A connection left inside a transaction (a frozen replica) would hold its row locks forever.
    idle_in_transaction_session_timeout: 60_000,
    keepAlive: true,
    types: typeParsers,
  });
  pool.on('error', opts.onError ?? (() => {}));
  return pool;
}

function sqlOn(q: pg.Pool | pg.ClientBase): Sql {
  const run = (text: string, params?: readonly unknown[]) => q.query(text, params as unknown[] | undefined);
  return {
    rows: async <R>(text: string, params?: readonly unknown[]) => (await run(text, params)).rows as R[],
    row: async <R>(text: string, params?: readonly unknown[]) => (await run(text, params)).rows[0] as R | undefined,
    exec: async (text: string, params?: readonly unknown[]) => (await run(text, params)).rowCount ?? 0,
  };
}

/** Statements on the pool, each on whichever connection is free (autocommit). */
export function poolSql(pool: pg.Pool): Sql {
  return sqlOn(pool);
}

/** Statements on one connection, e.g. inside the transaction it holds open. */
export function clientSql(client: pg.PoolClient | pg.Client): Sql {
  return sqlOn(client);
}

/**
 * Apply the pending migrations of migrations/postgres. One connection takes a session advisory
 * lock first, so replicas starting together wait for each other and the later ones find nothing
 * left to do; if this process dies meanwhile, the server drops the lock with its connection.
 */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK]);
    try {
      await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK]);
    }
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    // A connection whose unlock may not have run must not go back to the pool holding the lock.
    client.release(broken);
  }
}

/** `url` without its password (for logs and `store.path`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    if (u.searchParams.has('password')) u.searchParams.delete('password');
    return u.toString();
  } catch {
    return url.replace(/\/\/([^/@:]*):[^@/]*@/, '//$1@');
  }
}
