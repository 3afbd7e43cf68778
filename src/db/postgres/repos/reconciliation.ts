/**
 * What reelroute recorded for one provider's attempts on PostgreSQL: the same rows as
 * {@link reconciliationRepo} (src/db/repos/reconciliation.ts), each attempt at what the provider may
 * bill for it ({@link ATTEMPT_COST_SQL}, portable SQL shared with SQLite).
 */
import type { Sql } from '../sql.ts';
import type { Async } from '../../types.ts';
import { ATTEMPT_COST_SQL } from '../../repos/admin-tasks.ts';
import type { OurAttempt, ReconciliationRepo } from '../../repos/reconciliation.ts';

/** As on SQLite: how long before the range a task may have been created and still have an attempt in it. */
const TASK_LOOKBACK_MS = 31 * 86_400_000;

// Quoted aliases: PostgreSQL folds unquoted ones to lower case.
const COLUMNS = `a."id" AS "attemptId", a."task_id" AS "taskId", a."upstream_id" AS "upstreamId", a."status" AS "status",
  t."model" AS "model", a."created_at" AS "createdAt", ${ATTEMPT_COST_SQL} AS "costMicros"`;

// Ties on creation time break by attempt id, byte order (the schema's COLLATE "C", as SQLite's BINARY).
const IN_RANGE_SQL = `SELECT ${COLUMNS} FROM "tasks" t JOIN "attempts" a ON a."task_id" = t."id"
  WHERE t."created_at" >= $1 AND t."created_at" < $2 AND a."provider_id" = $3 AND a."created_at" >= $4 AND a."created_at" < $5
  ORDER BY a."created_at", a."id"`;

// The ids travel as one array parameter: one statement whatever their number. SQLite gives these rows
// in no set order; here they come oldest first, as `attempts` does.
const BY_IDS_SQL = `SELECT ${COLUMNS} FROM "attempts" a JOIN "tasks" t ON t."id" = a."task_id"
  WHERE a."provider_id" = $1 AND a."upstream_id" = ANY($2::text[])
  ORDER BY a."created_at", a."id"`;

export function pgReconciliationRepo(sql: Sql): Async<ReconciliationRepo> {
  return {
    attempts: (providerId: string, fromMs: number, toMs: number) =>
      sql.rows<OurAttempt>(IN_RANGE_SQL, [fromMs - TASK_LOOKBACK_MS, toMs, providerId, fromMs, toMs]),
    async byUpstreamIds(providerId: string, ids: readonly string[]): Promise<OurAttempt[]> {
      // A statement's id may hold a NUL, which PostgreSQL text cannot (sending one is an error): no
      // stored upstream id can equal it, so it is left out, and SQLite does not match it either.
      const asked = ids.filter((id) => !id.includes('\0'));
      return asked.length ? sql.rows<OurAttempt>(BY_IDS_SQL, [providerId, asked]) : [];
    },
  };
}
