import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import { apiKeys } from './keys.ts';

export const LEDGER_KINDS = ['credit', 'hold', 'charge', 'refund'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/**
 * Append-only money movements, integer micro-USD. `amount` is always positive; `balanceDelta` is its
 * effect on the key's prepaid balance (credit +, hold −, refund +, charge 0: the hold already paid it).
 * Invariants: per task, sum(hold) = sum(charge) + sum(refund) once it ends; per key, balance = sum(delta).
 */
export const ledgerEntries = sqliteTable(
  'ledger_entries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    taskId: text('task_id'),
    kind: text('kind', { enum: LEDGER_KINDS }).notNull(),
    amountMicros: integer('amount_micros').notNull(),
    balanceDeltaMicros: integer('balance_delta_micros').notNull(),
    note: text('note'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('ledger_key_created').on(t.keyId, t.createdAt), index('ledger_task').on(t.taskId)],
);

export type LedgerRow = typeof ledgerEntries.$inferSelect;
