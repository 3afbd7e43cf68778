/**
 * The store: every repository over one database, and the transaction boundary. Logic above this
 * layer sees repositories and `transaction(fn)`, never SQL.
 */
import type Database from 'better-sqlite3';
import { openDb, type DbHandle } from './client.ts';
import { startCheckpointer, type Checkpointer } from './checkpointer.ts';
import { adminRepo, type AdminRepo } from './repos/admin.ts';
import { healthRepo, type HealthRepo } from './repos/health.ts';
import { opsRepo, type OpsRepo } from './repos/ops.ts';
import { deliveriesRepo, idempotencyRepo, type DeliveriesRepo, type IdempotencyRepo } from './repos/deliveries.ts';
import { elementsRepo, type ElementsRepo } from './repos/elements.ts';
import { keysRepo, type KeysRepo } from './repos/keys.ts';
import { ledgerRepo, type LedgerRepo } from './repos/ledger.ts';
import { tasksRepo, type TasksRepo } from './repos/tasks.ts';
import { spendRepo, type SpendRepo } from './repos/spend.ts';
import { filesRepo, type FilesRepo } from './repos/files.ts';
import { sessionsRepo, type SessionsRepo } from './repos/sessions.ts';
import { adminTasksRepo, type AdminTasksRepo } from './repos/admin-tasks.ts';
import { reconciliationRepo, type ReconciliationRepo } from './repos/reconciliation.ts';
import { reportRunner, type ReportRunner } from '../reports/runner.ts';

export interface Store {
  keys: KeysRepo;
  tasks: TasksRepo;
  /** Spend reports (read-only aggregates over tasks). */
  spend: SpendRepo;
  /** Admin reads over every key's tasks and their ledger lines. */
  adminTasks: AdminTasksRepo;
  /** A provider's attempts and what it may bill for each (reconciliation). */
  reconciliation: ReconciliationRepo;
  /** Spend reports rendered off the event loop (a worker thread with its own read connection). */
  reports: ReportRunner;
  ledger: LedgerRepo;
  elements: ElementsRepo;
  deliveries: DeliveriesRepo;
  idempotency: IdempotencyRepo;
  admin: AdminRepo;
  /** Learned provider health (routing). */
  health: HealthRepo;
  /** Aggregates for operational metrics. */
  ops: OpsRepo;
  /** Stored files and output-mirror jobs. */
  files: FilesRepo;
  /** The database file (`:memory:` for an in-memory one); stored files default to a folder beside it. */
  path: string;
  /** Dashboard sessions and one-time login links. */
  sessions: SessionsRepo;
  /** Run `fn` in one IMMEDIATE transaction: all of it is written, or none. */
  transaction<T>(fn: () => T): T;
  /**
   * Group commit: like `transaction`, but `fn` joins the other calls made in the same event-loop
   * turn and they commit together (each in its own savepoint, so one throwing rolls back only
   * itself). Resolves once `fn`'s writes are durable in the WAL.
   */
  batch<T>(fn: () => T): Promise<T>;
  /** True when the database answers. */
  ping(): boolean;
  /** Checkpoint the WAL from a worker thread instead of inside request-path commits (servers). */
  checkpointInBackground(): void;
  close(): Promise<void>;
}

export function openStore(path: string): Store {
  const handle: DbHandle = openDb(path);
  const { db, sqlite } = handle;
  const ping = sqlite.prepare('select 1 as ok');
  let checkpointer: Checkpointer | undefined;
  const transaction = <T>(fn: () => T): T => sqlite.transaction(fn).immediate();
  const spend = spendRepo(sqlite);
  const reports = reportRunner(path, spend);
  const batch = groupCommit(sqlite);
  return {
    keys: keysRepo(db, sqlite),
    tasks: tasksRepo(sqlite),
    spend,
    adminTasks: adminTasksRepo(sqlite),
    reconciliation: reconciliationRepo(sqlite),
    reports,
    ledger: ledgerRepo(db, sqlite),
    elements: elementsRepo(db),
    deliveries: deliveriesRepo(db),
    idempotency: idempotencyRepo(db),
    admin: adminRepo(db),
    health: healthRepo(db),
    ops: opsRepo(sqlite),
    files: filesRepo(sqlite),
    path,
    sessions: sessionsRepo(db),
    transaction,
    batch,
    ping: () => (ping.get() as { ok: number } | undefined)?.ok === 1,
    checkpointInBackground: () => {
      if (path !== ':memory:') checkpointer ??= startCheckpointer(sqlite, path);
    },
    close: async () => {
      await checkpointer?.stop();
      await reports.close();
      handle.close();
    },
  };
}

interface Pending {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit over one connection: collect the calls of one event-loop turn and commit them in one
 * transaction, each in its own savepoint. Exported for tests that need a raw handle (a full disk).
 */
export function groupCommit(sqlite: Database.Database): <T>(fn: () => T) => Promise<T> {
  const transaction = <T>(fn: () => T): T => sqlite.transaction(fn).immediate();
  let queue: Pending[] = [];
  const flush = () => {
    const run = queue;
    queue = [];
    const outcomes: (() => void)[] = [];
    try {
      transaction(() => {
        for (const p of run) {
          try {
            // A nested better-sqlite3 transaction is a savepoint: a throw undoes only this call.
            const value = transaction(p.fn);
            outcomes.push(() => p.resolve(value));
          } catch (err) {
            // SQLite may roll the whole transaction back on its own (SQLITE_FULL, IOERR, NOMEM): then
            // the calls before this one are undone too, and a call run after it would autocommit
            // alone. Stop: the whole batch fails together.
            if (!sqlite.inTransaction) throw err;
            outcomes.push(() => p.reject(err));
          }
        }
      });
    } catch (err) {
      for (const p of run) p.reject(err);
      return;
    }
    for (const settle of outcomes) settle();
  };
  return <T>(fn: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
    });
}
