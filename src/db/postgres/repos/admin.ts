/** Provider overrides and the audit log on PostgreSQL: the same answers as src/db/repos/admin.ts. */
import { auditLog, providerOverrides, type ProviderOverrideRow } from '../../schema/index.ts';
import type { AdminRepo, NewAuditRow } from '../../repos/admin.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const o = pgTable(providerOverrides, 'providerId');
const audit = pgTable(auditLog, 'id');
const OVERRIDE = `${o.selectSql} WHERE "provider_id" = $1`;
const OVERRIDE_COLUMNS = ['enabled', 'priority', 'models', 'updatedAt'] as const satisfies readonly (keyof ProviderOverrideRow)[];
const OVERRIDES = o.selectSql;
const AUDIT_FIRST = `${audit.selectSql} ORDER BY "id" DESC LIMIT $1`;
const AUDIT_AFTER = `${audit.selectSql} WHERE "id" < $1 ORDER BY "id" DESC LIMIT $2`;

export function pgAdminRepo(sql: Sql): Async<AdminRepo> {
  return {
    override: (providerId: string) => o.get(sql, OVERRIDE, [providerId]),
    /** Insert or replace a provider's override. */
    putOverride: (row: ProviderOverrideRow) =>
      // drizzle's `set: rest` leaves a field passed as undefined alone.
      o.upsert(sql, row, ['providerId'], OVERRIDE_COLUMNS.filter((c) => row[c] !== undefined)),
    overrides: () => o.all(sql, OVERRIDES, []),
    insertAudit: (row: NewAuditRow) => audit.insert(sql, row),
    lastAuditId: async () => (await sql.row<{ id: number | null }>('SELECT max("id") AS "id" FROM "audit_log"'))?.id ?? 0,
    listAudit: (limit: number, after?: number) =>
      after === undefined ? audit.all(sql, AUDIT_FIRST, [limit]) : audit.all(sql, AUDIT_AFTER, [after, limit]),
  };
}
