/** PostgreSQL twin of src/db/schema/ledger.ts (column meanings are documented there). */
import { pgTable, bigint, index } from 'drizzle-orm/pg-core';
import { text } from './text.ts';
import type { LedgerKind } from '../../schema/ledger.ts';
import { apiKeys } from './keys.ts';

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    // By default, not always: an import from SQLite can keep the ids it had.
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    taskId: text('task_id'),
    kind: text('kind').$type<LedgerKind>().notNull(),
    amountMicros: bigint('amount_micros', { mode: 'number' }).notNull(),
    balanceDeltaMicros: bigint('balance_delta_micros', { mode: 'number' }).notNull(),
    note: text('note'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('ledger_key_created').on(t.keyId, t.createdAt), index('ledger_task').on(t.taskId)],
);
