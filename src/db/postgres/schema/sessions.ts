/** PostgreSQL twin of src/db/schema/sessions.ts (column meanings are documented there). */
import { pgTable, bigint, index } from 'drizzle-orm/pg-core';
import { text } from './text.ts';

export const dashboardSessions = pgTable(
  'dashboard_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    purpose: text('purpose').$type<'session' | 'login'>().notNull(),
    role: text('role').$type<'admin' | 'key'>().notNull(),
    keyId: text('key_id'),
    adminHash: text('admin_hash'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('dashboard_sessions_expires').on(t.expiresAt)],
);
