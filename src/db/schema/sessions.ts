import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/**
 * Dashboard sessions and one-time login links. The browser holds a random id; only its SHA-256
 * is stored, so a copy of the database cannot be replayed as a cookie.
 */
export const dashboardSessions = sqliteTable(
  'dashboard_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    /** `session`: a signed-in browser; `login`: a one-time link that becomes a session when opened. */
    purpose: text('purpose', { enum: ['session', 'login'] }).notNull(),
    /** `admin` (signed in with the admin key) or `key` (an API key). */
    role: text('role', { enum: ['admin', 'key'] }).notNull(),
    /** role `key`: the API key; role `admin`: the key its Playground runs on (null until chosen). */
    keyId: text('key_id'),
    /** role `admin`: hash of the admin key it was opened with; a new admin key ends old sessions. */
    adminHash: text('admin_hash'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('dashboard_sessions_expires').on(t.expiresAt)],
);

export type DashboardSessionRow = typeof dashboardSessions.$inferSelect;
