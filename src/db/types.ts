/**
 * The store as the engine sees it: one async interface over two engines (SQLite embedded, PostgreSQL
 * for replicas). Each repository is described once, by the SQLite implementation's synchronous type;
 * the engine sees its async form, and the PostgreSQL implementation provides the same async form.
 */
import type { AdminRepo } from './repos/admin.ts';
import type { AdminTasksRepo } from './repos/admin-tasks.ts';
import type { DeliveriesRepo, IdempotencyRepo } from './repos/deliveries.ts';
import type { ElementsRepo } from './repos/elements.ts';
import type { FilesRepo } from './repos/files.ts';
import type { HealthRepo } from './repos/health.ts';
import type { KeysRepo } from './repos/keys.ts';
import type { LedgerRepo } from './repos/ledger.ts';
import type { OpsRepo } from './repos/ops.ts';
import type { ReconciliationRepo } from './repos/reconciliation.ts';
import type { SessionsRepo } from './repos/sessions.ts';
import type { SpendRepo } from './repos/spend.ts';
import type { TasksRepo } from './repos/tasks.ts';
import type { ReportRunner } from '../reports/runner.ts';

/** A repository's async form: every method answers a promise of what the synchronous one returns. */
export type Async<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => Promise<Awaited<T>> : R[K];
};

/** Every repository, as one engine's connection (or one open transaction) offers them. */
export interface Repos {
  keys: Async<KeysRepo>;
  tasks: Async<TasksRepo>;
  /** Spend reports (read-only aggregates over tasks). */
  spend: Async<SpendRepo>;
  /** Admin reads over every key's tasks and their ledger lines. */
  adminTasks: Async<AdminTasksRepo>;
  /** A provider's attempts and what it may bill for each (reconciliation). */
  reconciliation: Async<ReconciliationRepo>;
  ledger: Async<LedgerRepo>;
  elements: Async<ElementsRepo>;
  deliveries: Async<DeliveriesRepo>;
  idempotency: Async<IdempotencyRepo>;
  admin: Async<AdminRepo>;
  /** Learned provider health (routing). */
  health: Async<HealthRepo>;
  /** Aggregates for operational metrics. */
  ops: Async<OpsRepo>;
  /** Stored files and output-mirror jobs. */
  files: Async<FilesRepo>;
  /** Dashboard sessions and one-time login links. */
  sessions: Async<SessionsRepo>;
}

export type Engine = 'sqlite' | 'postgres';

export interface Store extends Repos {
  engine: Engine;
  /** Where the data lives: the SQLite file (`:memory:` for an in-memory one) or the PostgreSQL URL without its password. */
  path: string;
  /** Spend reports rendered off the request path. */
  reports: ReportRunner;
  /**
   * Run `fn` in one transaction: all of its writes land, or none. `fn` must use the `tx` it is given
   * (never the store itself: on PostgreSQL that is another connection) and do nothing but store work
   * inside: no network, no timers, since the transaction holds its locks until `fn` returns.
   */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  /**
   * Group commit: like `transaction`, but on SQLite `fn` joins the other calls made in the same
   * event-loop turn and they commit together (each in its own savepoint, so one throwing rolls back
   * only itself). Resolves once `fn`'s writes are durable.
   */
  batch<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  /** True when the database answers. */
  ping(): Promise<boolean>;
  /** Checkpoint the WAL from a worker thread instead of inside request-path commits (SQLite servers). */
  checkpointInBackground(): void;
  close(): Promise<void>;
}
