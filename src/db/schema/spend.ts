import { sqliteTable, text, integer, primaryKey, index } from 'drizzle-orm/sqlite-core';

/**
 * The spend rollup: per UTC creation day × key × model × provider, the sums `/admin/spend` and
 * `/v1/usage` report, so a report reads a few thousand rows instead of every task.
 *
 * Kept exact by SQLite triggers on `tasks` (migration `spend_rollup_triggers`): every insert and
 * every change of a counted column subtracts the old row's contribution and adds the new one, in the
 * same statement — so in the same transaction as the ledger rows that change those columns. A task
 * stays on its creation day whatever happens later (refunds, late settlements, failover).
 * `provider` is '' for tasks no provider ran (a primary key column cannot usefully be NULL).
 */
export const spendDaily = sqliteTable(
  'spend_daily',
  {
    day: text('day').notNull(),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    provider: text('provider').notNull(),
    tasks: integer('tasks').notNull().default(0),
    completed: integer('completed').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    cancelled: integer('cancelled').notNull().default(0),
    billableUnits: integer('billable_units').notNull().default(0),
    reservedMicros: integer('reserved_micros').notNull().default(0),
    chargedMicros: integer('charged_micros').notNull().default(0),
    refundedMicros: integer('refunded_micros').notNull().default(0),
    upstreamCostMicros: integer('upstream_cost_micros').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.day, t.keyId, t.model, t.provider] }), index('spend_daily_key_day').on(t.keyId, t.day)],
);

export type SpendDailyRow = typeof spendDaily.$inferSelect;
