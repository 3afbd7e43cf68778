/**
 * PostgreSQL twin of src/db/schema/spend.ts (column meanings are documented there). Kept by the
 * PL/pgSQL triggers of migration `spend_rollup_triggers`, equivalent to the SQLite ones.
 */
import { pgTable, bigint, primaryKey, index } from 'drizzle-orm/pg-core';
import { text } from './text.ts';

const sum = (name: string) => bigint(name, { mode: 'number' }).notNull().default(0);

export const spendDaily = pgTable(
  'spend_daily',
  {
    day: text('day').notNull(),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    provider: text('provider').notNull(),
    tasks: sum('tasks'),
    completed: sum('completed'),
    failed: sum('failed'),
    cancelled: sum('cancelled'),
    billableUnits: sum('billable_units'),
    reservedMicros: sum('reserved_micros'),
    chargedMicros: sum('charged_micros'),
    refundedMicros: sum('refunded_micros'),
    upstreamCostMicros: sum('upstream_cost_micros'),
  },
  (t) => [primaryKey({ columns: [t.day, t.keyId, t.model, t.provider] }), index('spend_daily_key_day').on(t.keyId, t.day)],
);
