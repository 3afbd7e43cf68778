/**
 * The PostgreSQL engine: a pool shared by the requests of one replica, and any number of replicas
 * on one database. Every repository is built on a statement runner: the pool for calls on the
 * store, one connection for the calls of an open transaction. Money checks lock the rows they read
 * (FOR UPDATE), so concurrent transactions on any replica run one after the other where they meet.
 */
import type pg from 'pg';
import type { Repos, Store } from '../types.ts';
import { clientSql, migratePostgres, openPool, poolSql, redactUrl } from './client.ts';
import type { Sql } from './sql.ts';
import { pgAdminRepo } from './repos/admin.ts';
import { pgAdminTasksRepo } from './repos/admin-tasks.ts';
import { pgDeliveriesRepo, pgIdempotencyRepo } from './repos/deliveries.ts';
import { pgElementsRepo } from './repos/elements.ts';
import { pgFilesRepo } from './repos/files.ts';
import { pgHealthRepo } from './repos/health.ts';
import { pgKeysRepo } from './repos/keys.ts';
import { pgLedgerRepo } from './repos/ledger.ts';
import { pgOpsRepo } from './repos/ops.ts';
import { pgReconciliationRepo } from './repos/reconciliation.ts';
import { pgSessionsRepo } from './repos/sessions.ts';
import { pgSpendRepo } from './repos/spend.ts';
import { pgTasksRepo } from './repos/tasks.ts';
import { pgReportRunner } from '../../reports/pg-runner.ts';

/** Every repository on one statement runner. */
function pgRepos(sql: Sql): Repos {
  return {
    keys: pgKeysRepo(sql),
    tasks: pgTasksRepo(sql),
    spend: pgSpendRepo(sql),
    adminTasks: pgAdminTasksRepo(sql),
    reconciliation: pgReconciliationRepo(sql),
    ledger: pgLedgerRepo(sql),
    elements: pgElementsRepo(sql),
    deliveries: pgDeliveriesRepo(sql),
    idempotency: pgIdempotencyRepo(sql),
    admin: pgAdminRepo(sql),
    health: pgHealthRepo(sql),
    ops: pgOpsRepo(sql),
    files: pgFilesRepo(sql),
    sessions: pgSessionsRepo(sql),
  };
}

/** Deadlock and serialization failures: PostgreSQL rolled the transaction back; running it again is safe. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_TRIES = 3;

/** `fn` in one transaction on a connection of its own (READ COMMITTED; rows locked where read for update). */
function pgTransaction(pool: pg.Pool) {
  return async <T>(fn: (tx: Repos) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        try {
          const value = await fn(pgRepos(clientSql(client)));
          await client.query('COMMIT');
          return value;
        } catch (err) {
          await client.query('ROLLBACK').catch((e: Error) => (broken = e));
          throw err;
        }
      } catch (err) {
        if (attempt < MAX_TRIES && RETRYABLE.has((err as { code?: string }).code ?? '')) continue;
        throw err;
      } finally {
        // A connection whose rollback failed is dropped, never handed to the next caller mid-transaction.
        client.release(broken);
      }
    }
  };
}

/** Connect to `url`, migrate (once across replicas starting together), and answer the store. */
export async function openPostgresStore(url: string, opts: { poolSize?: number } = {}): Promise<Store> {
  const pool = openPool(url, { ...(opts.poolSize ? { max: opts.poolSize } : {}) });
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const repos = pgRepos(poolSql(pool));
  const reports = pgReportRunner(repos.spend);
  const transaction = pgTransaction(pool);
  let closing: Promise<void> | null = null;
  return {
    ...repos,
    engine: 'postgres',
    path: redactUrl(url),
    reports,
    transaction,
    // Each call commits on its own: PostgreSQL's commits do not serialize on one file.
    batch: transaction,
    ping: async () => (await pool.query('SELECT 1 AS ok')).rows[0]?.ok === 1,
    checkpointInBackground: () => {},
    // Closing twice is harmless, as it is on SQLite.
    close: () =>
      (closing ??= (async () => {
        await reports.close();
        await pool.end();
      })()),
  };
}
