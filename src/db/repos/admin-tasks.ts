/**
 * Admin reads over every key's tasks (`GET /admin/tasks`, `GET /admin/tasks/{id}`): filtered,
 * newest-first pages and a task's ledger lines. Read-only; never on the submit or poll path.
 */
import type Database from 'better-sqlite3';
import { fastTable } from '../fast.ts';
import { tasks, type AttemptRow, type LedgerKind, type TaskRow } from '../schema/index.ts';

/** Filters of the admin task list; each one given narrows it (AND). */
export interface AdminTaskFilter {
  keyId?: string;
  status?: string;
  provider?: string;
  model?: string;
}

/** One ledger line of a task, micro-USD. */
export interface LedgerLine {
  id: number;
  kind: LedgerKind;
  amountMicros: number;
  balanceDeltaMicros: number;
  note: string | null;
  createdAt: number;
}

/**
 * What reelroute records as an attempt's upstream cost (what the provider may bill for it):
 * - the attempt that completed the task: the task's upstream cost (produced units at its unit cost);
 * - an attempt whose outcome is unknown, or that is still running: its quote (billable units at its
 *   unit cost) — the provider may have run it and may bill it;
 * - a failed, rejected or cancelled attempt: 0 (providers bill produced output only).
 */
export function attemptCostMicros(task: Pick<TaskRow, 'status' | 'billableUnits' | 'upstreamCostMicros'>, attempt: Pick<AttemptRow, 'status' | 'unitCostMicros'>): number {
  switch (attempt.status) {
    case 'completed':
      return task.upstreamCostMicros;
    case 'unknown':
    case 'submitting':
    case 'pending':
    case 'processing':
      return task.billableUnits * attempt.unitCostMicros;
    default:
      return 0;
  }
}

/** The same rule in SQL over `attempts a JOIN tasks t` (reconciliation sums it per attempt). */
export const ATTEMPT_COST_SQL = `CASE a."status"
  WHEN 'completed' THEN t."upstream_cost_micros"
  WHEN 'failed' THEN 0 WHEN 'cancelled' THEN 0
  ELSE t."billable_units" * a."unit_cost_micros" END`;

export function adminTasksRepo(sqlite: Database.Database) {
  const t = fastTable(sqlite, tasks, 'id');
  const lines = sqlite.prepare(
    'SELECT "id", "kind", "amount_micros" AS amountMicros, "balance_delta_micros" AS balanceDeltaMicros, "note", "created_at" AS createdAt FROM "ledger_entries" WHERE "task_id" = ? ORDER BY "id"',
  );
  // One statement per combination of filters given (at most 32), built from fixed fragments only.
  const pages = new Map<string, ReturnType<typeof t.select>>();
  const FILTER_SQL: [keyof AdminTaskFilter, string][] = [
    ['keyId', '"key_id" = ?'],
    ['status', '"status" = ?'],
    ['provider', '"provider" = ?'],
    ['model', '"model" = ?'],
  ];

  return {
    /** Tasks matching `filter`, newest first (ids sort by creation), strictly before `after` if given. */
    list(filter: AdminTaskFilter, limit: number, after?: string): TaskRow[] {
      const used = FILTER_SQL.filter(([k]) => filter[k] !== undefined);
      const clauses = used.map(([, sql]) => sql);
      if (after !== undefined) clauses.push('"id" < ?');
      const where = `${clauses.length ? `WHERE ${clauses.join(' AND ')} ` : ''}ORDER BY "id" DESC LIMIT ?`;
      let stmt = pages.get(where);
      if (!stmt) {
        stmt = t.select(where);
        pages.set(where, stmt);
      }
      const params: unknown[] = used.map(([k]) => filter[k]);
      if (after !== undefined) params.push(after);
      return stmt.all(...params, limit);
    },
    /** The task's ledger lines in the order they were written. */
    ledger: (taskId: string): LedgerLine[] => lines.all(taskId) as LedgerLine[],
  };
}

export type AdminTasksRepo = ReturnType<typeof adminTasksRepo>;
