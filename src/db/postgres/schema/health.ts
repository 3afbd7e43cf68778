/** PostgreSQL twin of src/db/schema/health.ts (column meanings are documented there). */
import { pgTable, bigint, primaryKey } from 'drizzle-orm/pg-core';
import { text } from './text.ts';

export const providerHealth = pgTable(
  'provider_health',
  {
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    outcomes: text('outcomes').notNull().default(''),
    completions: text('completions').notNull().default('[]'),
    consecutiveFailures: bigint('consecutive_failures', { mode: 'number' }).notNull().default(0),
    openUntil: bigint('open_until', { mode: 'number' }),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.model] })],
);
