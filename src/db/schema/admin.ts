import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/**
 * Live changes to providers made through `PATCH /admin/providers/{id}`; applied over the config at
 * start, so they survive a restart. Null fields leave the config's value in place.
 */
export const providerOverrides = sqliteTable('provider_overrides', {
  providerId: text('provider_id').primaryKey(),
  enabled: integer('enabled', { mode: 'boolean' }),
  priority: integer('priority'),
  /** JSON: { <model>: { enabled?, price? } } merged over the config's models. */
  models: text('models'),
  updatedAt: integer('updated_at').notNull(),
});

/** Who changed what, when: every admin change, before and after (JSON). */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    action: text('action').notNull(),
    target: text('target').notNull(),
    before: text('before'),
    after: text('after'),
    requestId: text('request_id'),
  },
  (t) => [index('audit_at').on(t.at)],
);

export type ProviderOverrideRow = typeof providerOverrides.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
