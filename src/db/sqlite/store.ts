/**
 * The SQLite engine: one better-sqlite3 connection, its synchronous repositories behind the async
 * store interface. Transactions run one at a time (a FIFO gate): while one is open, calls made on the
 * store itself wait for it, so nothing outside a transaction reads its half-written state or joins it.
 */
import type Database from 'better-sqlite3';
import { openDb } from '../client.ts';
import { startCheckpointer, type Checkpointer } from '../checkpointer.ts';
import { adminRepo } from '../repos/admin.ts';
import { adminTasksRepo } from '../repos/admin-tasks.ts';
import { deliveriesRepo, idempotencyRepo } from '../repos/deliveries.ts';
import { elementsRepo } from '../repos/elements.ts';
import { filesRepo } from '../repos/files.ts';
import { healthRepo } from '../repos/health.ts';
import { keysRepo } from '../repos/keys.ts';
import { ledgerRepo } from '../repos/ledger.ts';
import { opsRepo } from '../repos/ops.ts';
import { reconciliationRepo } from '../repos/reconciliation.ts';
import { sessionsRepo } from '../repos/sessions.ts';
import { spendRepo } from '../repos/spend.ts';
import { tasksRepo } from '../repos/tasks.ts';
import type { Repos, Store } from '../types.ts';
import { reportRunner } from '../../reports/runner.ts';

/** Every repository, synchronous (the description each engine implements). */
type SyncRepos = { [K in keyof Repos]: object };

/** One transaction at a time on the connection; waiters run in arrival order. */
export class Gate {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  get busy(): boolean {
    return this.held;
  }

  acquire(): Promise<void> | void {
    if (!this.held) {
      this.held = true;
      return;
    }
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /**
   * `acquire` for a call made on the store while a transaction is open. A call made on the store
   * *inside* that transaction would wait forever: after 10 s a warning says so.
   */
  async wait(): Promise<void> {
    const warn = setTimeout(
      () => process.emitWarning('a store call has waited 10 s for a transaction: a call on the store inside store.transaction(fn) never runs; use the tx fn is given', 'ReelrouteStoreWarning'),
      10_000,
    );
    warn.unref();
    try {
      await this.acquire();
    } finally {
      clearTimeout(warn);
    }
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
}

/**
 * The async form of synchronous repositories. With a gate, a call waits while a transaction holds it;
 * without (the repositories handed to an open transaction), it runs at once.
 */
function asyncRepos(sync: SyncRepos, gate?: Gate): Repos {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, repo] of Object.entries(sync)) {
    const wrapped: Record<string, unknown> = {};
    for (const [method, fn] of Object.entries(repo as Record<string, unknown>)) {
      if (typeof fn !== 'function') continue;
      const call = (args: unknown[]) => (fn as (...a: unknown[]) => unknown)(...args);
      wrapped[method] = (...args: unknown[]): Promise<unknown> => {
        if (gate?.busy) {
          return gate.wait().then(() => {
            try {
              return call(args);
            } finally {
              gate.release();
            }
          });
        }
        try {
          return Promise.resolve(call(args));
        } catch (err) {
          return Promise.reject(err);
        }
      };
    }
    out[name] = wrapped;
  }
  return out as unknown as Repos;
}

interface Pending {
  fn: (tx: Repos) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Statements that open and end transactions and savepoints, prepared once. */
function txStatements(sqlite: Database.Database) {
  return {
    begin: sqlite.prepare('BEGIN IMMEDIATE'),
    commit: sqlite.prepare('COMMIT'),
    rollback: sqlite.prepare('ROLLBACK'),
    savepoint: sqlite.prepare('SAVEPOINT batch_call'),
    releaseSavepoint: sqlite.prepare('RELEASE batch_call'),
    rollbackTo: sqlite.prepare('ROLLBACK TO batch_call'),
  };
}

/** `fn` in one IMMEDIATE transaction, once the gate is ours. */
export function sqliteTransaction(sqlite: Database.Database, gate: Gate, tx: Repos) {
  const s = txStatements(sqlite);
  return async <T>(fn: (tx: Repos) => Promise<T>): Promise<T> => {
    await gate.acquire();
    try {
      s.begin.run();
      try {
        const value = await fn(tx);
        s.commit.run();
        return value;
      } catch (err) {
        if (sqlite.inTransaction) s.rollback.run();
        throw err;
      }
    } finally {
      gate.release();
    }
  };
}

/**
 * Group commit over one connection: collect the calls of one event-loop turn and commit them in one
 * transaction, each in its own savepoint. Exported for tests that need a raw handle (a full disk).
 */
export function groupCommit(sqlite: Database.Database, gate: Gate, tx: Repos): <T>(fn: (tx: Repos) => Promise<T>) => Promise<T> {
  const s = txStatements(sqlite);
  let queue: Pending[] = [];
  const flush = async () => {
    const run = queue;
    queue = [];
    await gate.acquire();
    const outcomes: (() => void)[] = [];
    try {
      s.begin.run();
      for (const p of run) {
        s.savepoint.run();
        try {
          const value = await p.fn(tx);
          s.releaseSavepoint.run();
          outcomes.push(() => p.resolve(value));
        } catch (err) {
          // SQLite may roll the whole transaction back on its own (SQLITE_FULL, IOERR, NOMEM): then
          // the calls before this one are undone too, and a call run after it would autocommit
          // alone. Stop: the whole batch fails together.
          if (!sqlite.inTransaction) throw err;
          s.rollbackTo.run();
          s.releaseSavepoint.run();
          outcomes.push(() => p.reject(err));
        }
      }
      s.commit.run();
    } catch (err) {
      if (sqlite.inTransaction) s.rollback.run();
      for (const p of run) p.reject(err);
      return;
    } finally {
      gate.release();
    }
    for (const settle of outcomes) settle();
  };
  return <T>(fn: (tx: Repos) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (queue.length === 0) setImmediate(() => void flush());
      queue.push({ fn: fn as Pending['fn'], resolve: resolve as (value: unknown) => void, reject });
    });
}

/** Open (creating and migrating) the SQLite database at `path` as a store. */
export function openSqliteStore(path: string): Store {
  const handle = openDb(path);
  const { db, sqlite } = handle;
  const ping = sqlite.prepare('select 1 as ok');
  let checkpointer: Checkpointer | undefined;
  const spend = spendRepo(sqlite);
  const sync = {
    keys: keysRepo(db, sqlite),
    tasks: tasksRepo(sqlite),
    spend,
    adminTasks: adminTasksRepo(sqlite),
    reconciliation: reconciliationRepo(sqlite),
    ledger: ledgerRepo(db, sqlite),
    elements: elementsRepo(db),
    deliveries: deliveriesRepo(db, sqlite),
    idempotency: idempotencyRepo(db),
    admin: adminRepo(db),
    health: healthRepo(db),
    ops: opsRepo(sqlite),
    files: filesRepo(sqlite),
    sessions: sessionsRepo(db),
  } satisfies SyncRepos;
  const gate = new Gate();
  const tx = asyncRepos(sync);
  const reports = reportRunner(path, spend);
  return {
    ...asyncRepos(sync, gate),
    engine: 'sqlite',
    path,
    reports,
    transaction: sqliteTransaction(sqlite, gate, tx),
    batch: groupCommit(sqlite, gate, tx),
    ping: async () => (ping.get() as { ok: number } | undefined)?.ok === 1,
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
