/** PostgreSQL twin of src/db/schema/admin.ts (column meanings are documented there). */
import { pgTable, bigint, boolean, index } from 'drizzle-orm/pg-core';
import { text } from './text.ts';

export const providerOverrides = pgTable('provider_overrides', {
  providerId: text('provider_id').primaryKey(),
  enabled: boolean('enabled'),
  priority: bigint('priority', { mode: 'number' }),
  models: text('models'),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

export const auditLog = pgTable(
  'audit_log',
  {
    // By default, not always: an import from SQLite can keep the ids it had.
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    at: bigint('at', { mode: 'number' }).notNull(),
    action: text('action').notNull(),
    target: text('target').notNull(),
    before: text('before'),
    after: text('after'),
    requestId: text('request_id'),
  },
  (t) => [index('audit_at').on(t.at)],
);
