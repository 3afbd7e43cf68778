/** Admin state: provider overrides (applied over the config at start) and the audit log. */
import { desc, eq, lt, max } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { auditLog, providerOverrides, type AuditRow, type ProviderOverrideRow } from '../schema/index.ts';

export type NewAuditRow = Omit<AuditRow, 'id'>;

export function adminRepo(db: Db) {
  return {
    override(providerId: string): ProviderOverrideRow | undefined {
      return db.select().from(providerOverrides).where(eq(providerOverrides.providerId, providerId)).get();
    },
    /** Insert or replace a provider's override. */
    putOverride(row: ProviderOverrideRow): void {
      const { providerId: _, ...rest } = row;
      db.insert(providerOverrides).values(row).onConflictDoUpdate({ target: providerOverrides.providerId, set: rest }).run();
    },
    overrides(): ProviderOverrideRow[] {
      return db.select().from(providerOverrides).all();
    },
    insertAudit(row: NewAuditRow): void {
      db.insert(auditLog).values(row).run();
    },
    /** The newest audit entry's id (0 when none): other replicas watch it to learn of admin changes. */
    lastAuditId(): number {
      return db.select({ id: max(auditLog.id) }).from(auditLog).get()?.id ?? 0;
    },
    /** Newest first; `after` is the id of the last row of the previous page. */
    listAudit(limit: number, after?: number): AuditRow[] {
      const q = db.select().from(auditLog);
      return (after === undefined ? q : q.where(lt(auditLog.id, after))).orderBy(desc(auditLog.id)).limit(limit).all();
    },
  };
}

export type AdminRepo = ReturnType<typeof adminRepo>;
