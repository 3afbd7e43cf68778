/** Ledger rows on PostgreSQL: the same answers as src/db/repos/ledger.ts. */
import { ledgerEntries, type LedgerKind } from '../../schema/index.ts';
import type { LedgerInsert, LedgerRepo } from '../../repos/ledger.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const entries = pgTable(ledgerEntries, 'id');
// Read from the trigger-kept spend rollup, as on SQLite (see src/db/repos/ledger.ts for why).
const SPENT_IN = 'SELECT coalesce(sum("reserved_micros" - "refunded_micros"), 0) AS spent FROM "spend_daily" WHERE "key_id" = $1 AND "day" >= $2 AND "day" < $3';
const BALANCE_OF = 'SELECT coalesce(sum("balance_delta_micros"), 0) AS total FROM "ledger_entries" WHERE "key_id" = $1';
// Ordered as SQLite's GROUP BY answers (byte order of task ids), so the Map iterates the same way.
const TOTALS = `SELECT "task_id" AS "taskId", "kind", sum("amount_micros") AS total FROM "ledger_entries"
  WHERE "task_id" = ANY($1::text[]) GROUP BY "task_id", "kind" ORDER BY "task_id" COLLATE "C", "kind" COLLATE "C"`;

/** A UTC day as the spend rollup keys it; past year 9999, a day after every real one (as ledger.ts). */
function dayOf(ms: number): string {
  return ms >= Date.UTC(10_000, 0, 1) ? '9999-12-32' : new Date(Math.max(0, ms)).toISOString().slice(0, 10);
}

export function pgLedgerRepo(sql: Sql): Async<LedgerRepo> {
  return {
    insert: (row: LedgerInsert) => entries.insert(sql, { ...row, note: row.note ?? null }),
    spentIn: async (keyId: string, from: number, to: number) =>
      (await sql.row<{ spent: number }>(SPENT_IN, [keyId, dayOf(from), dayOf(to)]))?.spent ?? 0,
    balanceOf: async (keyId: string) => (await sql.row<{ total: number }>(BALANCE_OF, [keyId]))?.total ?? 0,
    async totalsByTask(taskIds: string[]) {
      const out = new Map<string, Record<LedgerKind, number>>();
      if (taskIds.length === 0) return out;
      const rows = await sql.rows<{ taskId: string | null; kind: LedgerKind; total: number }>(TOTALS, [taskIds]);
      for (const r of rows) {
        if (!r.taskId) continue;
        const t = out.get(r.taskId) ?? { credit: 0, hold: 0, charge: 0, refund: 0 };
        t[r.kind] = r.total;
        out.set(r.taskId, t);
      }
      return out;
    },
  };
}
