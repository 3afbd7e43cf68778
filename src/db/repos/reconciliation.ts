/**
 * What reelroute recorded for one provider's attempts, for reconciliation against that provider's
 * usage statement (`POST /admin/reconciliation`). Each attempt carries what the provider may bill
 * for it ({@link ATTEMPT_COST_SQL}): failed-over attempts and creates whose outcome was never known
 * are included.
 */
import type Database from 'better-sqlite3';
import { ATTEMPT_COST_SQL } from './admin-tasks.ts';

/** One attempt as reconciliation sees it. */
export interface OurAttempt {
  attemptId: string;
  taskId: string;
  /** Null when the create's answer never came (outcome unknown). */
  upstreamId: string | null;
  status: string;
  model: string;
  createdAt: number;
  /** What the provider may bill for it, micro-USD. */
  costMicros: number;
}

/**
 * How long before a range's first day a task may have been created and still have an attempt inside
 * the range (failover and crash recovery happen within hours; this bounds the indexed scan).
 */
const TASK_LOOKBACK_MS = 31 * 86_400_000;

const COLUMNS = `a."id" AS attemptId, a."task_id" AS taskId, a."upstream_id" AS upstreamId, a."status" AS status,
  t."model" AS model, a."created_at" AS createdAt, ${ATTEMPT_COST_SQL} AS costMicros`;

export function reconciliationRepo(sqlite: Database.Database) {
  // Through the tasks' creation index, then each task's attempts (attempts_task_seq).
  const inRange = sqlite.prepare(
    `SELECT ${COLUMNS} FROM "tasks" t JOIN "attempts" a ON a."task_id" = t."id"
     WHERE t."created_at" >= ? AND t."created_at" < ? AND a."provider_id" = ? AND a."created_at" >= ? AND a."created_at" < ?
     ORDER BY a."created_at", a."id"`,
  );
  // The ids travel as one JSON array parameter: one statement whatever their number.
  const byIds = sqlite.prepare(
    `SELECT ${COLUMNS} FROM "attempts" a JOIN "tasks" t ON t."id" = a."task_id"
     WHERE a."provider_id" = ? AND a."upstream_id" IN (SELECT value FROM json_each(?))`,
  );

  return {
    /** The provider's attempts created in [fromMs, toMs), oldest first. */
    attempts(providerId: string, fromMs: number, toMs: number): OurAttempt[] {
      return inRange.all(fromMs - TASK_LOOKBACK_MS, toMs, providerId, fromMs, toMs) as OurAttempt[];
    },
    /** The provider's attempts with these upstream ids, whenever they were made (statement lines outside the range). */
    byUpstreamIds(providerId: string, ids: readonly string[]): OurAttempt[] {
      return ids.length ? (byIds.all(providerId, JSON.stringify(ids)) as OurAttempt[]) : [];
    },
  };
}

export type ReconciliationRepo = ReturnType<typeof reconciliationRepo>;
