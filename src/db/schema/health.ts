import { sqliteTable, text, integer, primaryKey } from 'drizzle-orm/sqlite-core';

/**
 * Learned health per provider × model, kept so a restart remembers it: the recent outcomes window,
 * recent completion times and the circuit breaker. Written behind (about once a second), so a crash
 * loses at most the last moment of learning, never a task.
 */
export const providerHealth = sqliteTable(
  'provider_health',
  {
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    /** Recent create/run outcomes, oldest first: `s` success, `f` provider failure, `r` input rejected. */
    outcomes: text('outcomes').notNull().default(''),
    /** Recent times from submit to completion, seconds (JSON array, oldest first). */
    completions: text('completions').notNull().default('[]'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    /** While set, the circuit is open until then (ms), half-open after (the next probe time). */
    openUntil: integer('open_until'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.model] })],
);

export type ProviderHealthRow = typeof providerHealth.$inferSelect;
