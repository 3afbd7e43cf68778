/** Dashboard session rows (see schema/sessions.ts). */
import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { dashboardSessions, type DashboardSessionRow } from '../schema/index.ts';

export function sessionsRepo(db: Db) {
  return {
    insert(row: DashboardSessionRow): void {
      db.insert(dashboardSessions).values(row).run();
    },
    /** A row of `purpose` only: a one-time login token is never a session cookie. */
    get(idHash: string, purpose: DashboardSessionRow['purpose']): DashboardSessionRow | undefined {
      return db
        .select()
        .from(dashboardSessions)
        .where(and(eq(dashboardSessions.idHash, idHash), eq(dashboardSessions.purpose, purpose)))
        .get();
    },
    /** Delete and return a row of `purpose` (one-time links: two concurrent opens cannot both win). */
    take(idHash: string, purpose: DashboardSessionRow['purpose']): DashboardSessionRow | undefined {
      return db
        .delete(dashboardSessions)
        .where(and(eq(dashboardSessions.idHash, idHash), eq(dashboardSessions.purpose, purpose)))
        .returning()
        .get();
    },
    delete(idHash: string): void {
      db.delete(dashboardSessions).where(eq(dashboardSessions.idHash, idHash)).run();
    },
    purgeExpired(now: number): void {
      db.delete(dashboardSessions).where(lt(dashboardSessions.expiresAt, now)).run();
    },
  };
}

export type SessionsRepo = ReturnType<typeof sessionsRepo>;
