/**
 * The store: every repository over one database, and the transaction boundary. Logic above this
 * layer sees repositories and `transaction(fn)`, never SQL.
 */
import { openDb, type DbHandle } from './client.ts';
import { startCheckpointer, type Checkpointer } from './checkpointer.ts';
import { deliveriesRepo, idempotencyRepo, type DeliveriesRepo, type IdempotencyRepo } from './repos/deliveries.ts';
import { elementsRepo, type ElementsRepo } from './repos/elements.ts';
import { keysRepo, type KeysRepo } from './repos/keys.ts';
import { ledgerRepo, type LedgerRepo } from './repos/ledger.ts';
import { tasksRepo, type TasksRepo } from './repos/tasks.ts';

export interface Store {
  keys: KeysRepo;
  tasks: TasksRepo;
  ledger: LedgerRepo;
  elements: ElementsRepo;
  deliveries: DeliveriesRepo;
  idempotency: IdempotencyRepo;
  /** Run `fn` in one IMMEDIATE transaction: all of it is written, or none. */
  transaction<T>(fn: () => T): T;
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
  return {
    keys: keysRepo(db, sqlite),
    tasks: tasksRepo(sqlite),
    ledger: ledgerRepo(db, sqlite),
    elements: elementsRepo(db),
    deliveries: deliveriesRepo(db),
    idempotency: idempotencyRepo(db),
    transaction: <T>(fn: () => T): T => sqlite.transaction(fn).immediate(),
    ping: () => (ping.get() as { ok: number } | undefined)?.ok === 1,
    checkpointInBackground: () => {
      if (path !== ':memory:') checkpointer ??= startCheckpointer(sqlite, path);
    },
    close: async () => {
      await checkpointer?.stop();
      handle.close();
    },
  };
}
