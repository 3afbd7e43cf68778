/**
 * The SQLite database: one file (created with its folder), WAL, migrations applied at open.
 * Everything above `src/db` talks to repositories, never to SQL, so another backend can be added
 * without touching routes or logic.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema/index.ts';
import { packagePath } from '../paths.ts';

export type Db = BetterSQLite3Database<typeof schema>;

export interface DbHandle {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

// From the package root, not this module: the same code also runs bundled from dist/.
const MIGRATIONS = packagePath('migrations/sqlite');

/** Open (creating if needed) and migrate the database at `path` (`:memory:` works too). */
export function openDb(path: string): DbHandle {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // 32 MiB of page cache (default 2 MiB): random status lookups across a large task table stay in memory.
  sqlite.pragma('cache_size = -32768');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS });
  return { db, sqlite, close: () => sqlite.close() };
}
