import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/** API keys. The key itself is stored only as a SHA-256 hash; `prefix` helps humans tell keys apart. */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  keyHash: text('key_hash').notNull().unique(),
  prefix: text('prefix').notNull(),
  /** Needed in clear to sign callbacks (HMAC); shown to the client once, at creation. */
  webhookSecret: text('webhook_secret').notNull(),
  /** Prepaid balance in micro-USD; null = post-paid (no balance check). */
  balanceMicros: integer('balance_micros'),
  dailyBudgetMicros: integer('daily_budget_micros'),
  monthlyBudgetMicros: integer('monthly_budget_micros'),
  createdAt: integer('created_at').notNull(),
  revokedAt: integer('revoked_at'),
  /** Default routing preferences (CONTRACT §7, JSON); a request's own `route` replaces it field by field. */
  route: text('route'),
});

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Elements created through the gateway: our `el_…` id → the owning provider and its own id. */
export const elements = sqliteTable('elements', {
  id: text('id').primaryKey(),
  keyId: text('key_id').notNull().references(() => apiKeys.id),
  providerId: text('provider_id').notNull(),
  /** Kept as text; Kling's ids are numbers and are sent back as numbers by its adapter. */
  upstreamElementId: text('upstream_element_id').notNull(),
  taskId: text('task_id').notNull(),
  createdAt: integer('created_at').notNull(),
});

export type ElementRow = typeof elements.$inferSelect;
