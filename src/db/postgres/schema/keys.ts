/** PostgreSQL twin of src/db/schema/keys.ts (column meanings are documented there). */
import { pgTable, bigint } from 'drizzle-orm/pg-core';
import { text } from './text.ts';

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  keyHash: text('key_hash').notNull().unique(),
  prefix: text('prefix').notNull(),
  webhookSecret: text('webhook_secret').notNull(),
  balanceMicros: bigint('balance_micros', { mode: 'number' }),
  dailyBudgetMicros: bigint('daily_budget_micros', { mode: 'number' }),
  monthlyBudgetMicros: bigint('monthly_budget_micros', { mode: 'number' }),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  revokedAt: bigint('revoked_at', { mode: 'number' }),
  route: text('route'),
});

export const elements = pgTable('elements', {
  id: text('id').primaryKey(),
  keyId: text('key_id').notNull().references(() => apiKeys.id),
  providerId: text('provider_id').notNull(),
  upstreamElementId: text('upstream_element_id').notNull(),
  taskId: text('task_id').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});
