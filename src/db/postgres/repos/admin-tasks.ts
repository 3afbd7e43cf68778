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

/**
 * One statement per combination of filters and cursor (at most 48), built once per process. The
 * cursor compares `<`, or `<=` for a cursor cut at a NUL (see `list`).
 */
const PAGES = new Map<string, string>();
function pageSql(used: readonly (keyof AdminTaskFilter)[], cursor: '' | '<' | '<='): string {
  const id = `${used.join(',')}|${cursor}`;
  let text = PAGES.get(id);
  if (text === undefined) {
    const clauses = FILTER_SQL.filter(([k]) => used.includes(k)).map(([, column], i) => `${column} = $${i + 1}`);
    if (cursor) clauses.push(`"id" ${cursor} $${clauses.length + 1}`);
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
      // PostgreSQL text cannot hold NUL (sending one is an error), so no stored value equals a filter
      // with one: SQLite finds nothing either.
      if (used.some((k) => filter[k]!.includes('\0'))) return [];
      const params: unknown[] = used.map((k) => filter[k]);
      let cursor: '' | '<' | '<=' = '';
      if (after !== undefined) {
        // Byte-wise, an id without NUL sorts below `p\0…` exactly when it is at most `p`.
        const nul = after.indexOf('\0');
        cursor = nul < 0 ? '<' : '<=';
        params.push(nul < 0 ? after : after.slice(0, nul));
      }
      params.push(limit);
      return t.all(sql, pageSql(used, cursor), params);
    },
    ledger: (taskId: string) => sql.rows<LedgerLine>(LEDGER_SQL, [taskId]),
  };
}
