/** Dashboard sessions on PostgreSQL: the same answers as src/db/repos/sessions.ts. */
import { dashboardSessions, type DashboardSessionRow } from '../../schema/index.ts';
import type { SessionsRepo } from '../../repos/sessions.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const s = pgTable(dashboardSessions, 'idHash');
const GET = `${s.selectSql} WHERE "id_hash" = $1 AND "purpose" = $2`;
// One statement: of two concurrent opens of a one-time link, one deletes the row and the other finds none.
const TAKE = `DELETE FROM "dashboard_sessions" WHERE "id_hash" = $1 AND "purpose" = $2 RETURNING ${s.columns}`;
const DELETE = 'DELETE FROM "dashboard_sessions" WHERE "id_hash" = $1';
const PURGE = 'DELETE FROM "dashboard_sessions" WHERE "expires_at" < $1';

type Purpose = DashboardSessionRow['purpose'];

export function pgSessionsRepo(sql: Sql): Async<SessionsRepo> {
  return {
    insert: (row: DashboardSessionRow) => s.insert(sql, row),
    get: (idHash: string, purpose: Purpose) => s.get(sql, GET, [idHash, purpose]),
    take: (idHash: string, purpose: Purpose) => s.get(sql, TAKE, [idHash, purpose]),
    delete: async (idHash: string) => {
      await sql.exec(DELETE, [idHash]);
    },
    purgeExpired: async (now: number) => {
      await sql.exec(PURGE, [now]);
    },
  };
}
