/**
 * Admin reads over every key's tasks on PostgreSQL: the same pages and ledger lines as
 * {@link adminTasksRepo} (src/db/repos/admin-tasks.ts).
 *
 * Text columns are `COLLATE "C"` in the PostgreSQL schema (schema/text.ts), so ids sort and the
 * cursor compares byte by byte, as SQLite's BINARY does, through the same indexes.
 */
import type { Sql } from '../sql.ts';
import type { Async } from '../../types.ts';
import type { AdminTaskFilter, AdminTasksRepo, LedgerLine } from '../../repos/admin-tasks.ts';
import { tasks, type TaskRow } from '../../schema/index.ts';
import { pgTable } from '../table.ts';

const t = pgTable(tasks, 'id');

const FILTER_SQL: [keyof AdminTaskFilter, string][] = [
  ['keyId', '"key_id"'],
  ['status', '"status"'],
  ['provider', '"provider"'],
  ['model', '"model"'],
];

/** One statement per combination of filters and cursor (at most 32), built once per process. */
const PAGES = new Map<string, string>();
function pageSql(used: readonly (keyof AdminTaskFilter)[], withCursor: boolean): string {
  const id = `${used.join(',')}|${withCursor}`;
  let text = PAGES.get(id);
  if (text === undefined) {
    const clauses = FILTER_SQL.filter(([k]) => used.includes(k)).map(([, column], i) => `${column} = $${i + 1}`);
    if (withCursor) clauses.push(`"id" < $${clauses.length + 1}`);
    text = `${t.selectSql} ${clauses.length ? `WHERE ${clauses.join(' AND ')} ` : ''}ORDER BY "id" DESC LIMIT $${clauses.length + 1}`;
    PAGES.set(id, text);
  }
  return text;
}

const LEDGER_SQL =
  'SELECT "id", "kind", "amount_micros" AS "amountMicros", "balance_delta_micros" AS "balanceDeltaMicros", "note", "created_at" AS "createdAt" FROM "ledger_entries" WHERE "task_id" = $1 ORDER BY "id"';

export function pgAdminTasksRepo(sql: Sql): Async<AdminTasksRepo> {
  return {
    async list(filter: AdminTaskFilter, limit: number, after?: string): Promise<TaskRow[]> {
      const used = FILTER_SQL.filter(([k]) => filter[k] !== undefined).map(([k]) => k);
      const params: unknown[] = used.map((k) => filter[k]);
      if (after !== undefined) params.push(after);
      params.push(limit);
      return t.all(sql, pageSql(used, after !== undefined), params);
    },
    ledger: (taskId: string) => sql.rows<LedgerLine>(LEDGER_SQL, [taskId]),
  };
}
