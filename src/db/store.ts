/**
 * The store: every repository over one database, and the transaction boundary. Logic above this
 * layer sees repositories and `transaction(fn)`, never SQL. Two engines implement it: SQLite (the
 * embedded default, one process) and PostgreSQL (shared by several replicas).
 */
import { dbLocation } from './location.ts';
import { openSqliteStore } from './sqlite/store.ts';
import type { Store } from './types.ts';

export type { Async, Engine, Repos, Store } from './types.ts';
export { openSqliteStore };

/**
 * Open the store `location` names: a `postgres://` or `postgresql://` URL, or a SQLite file path
 * (`:memory:` included). Migrations are applied before it answers.
 */
export async function openStore(location: string, opts: { poolSize?: number } = {}): Promise<Store> {
  const where = dbLocation(location);
  if (where.engine === 'sqlite') return openSqliteStore(where.path);
  const { openPostgresStore } = await import('./postgres/store.ts');
  return openPostgresStore(where.url, opts);
}
