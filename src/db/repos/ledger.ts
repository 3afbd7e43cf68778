/** Ledger rows: append-only, and the sums that budgets and invariant checks need. */
import { eq, inArray, sql } from 'drizzle-orm';
import type Database from 'better-sqlite3';
import type { Db } from '../client.ts';
import { fastTable } from '../fast.ts';
import { ledgerEntries, type LedgerKind } from '../schema/index.ts';

export interface LedgerInsert {
  keyId: string;
  taskId: string | null;
  kind: LedgerKind;
  amountMicros: number;
  balanceDeltaMicros: number;
  note?: string | null;
  createdAt: number;
}

/** How far a task's ledger rows may predate it when the wall clock steps back (NTP). */
const CLOCK_MARGIN_MS = 3_600_000;

export function ledgerRepo(db: Db, sqlite: Database.Database) {
  const entries = fastTable(sqlite, ledgerEntries, 'id');
  // A budget period's spend = held minus refunded for the tasks *created* in it, whenever those rows
  // were written: yesterday's task refunded today gives back yesterday's budget, not today's (the
  // rule of the spend report). A task's rows are never older than the task, so the ledger index
  // bounds the scan; the margin only absorbs a wall clock stepping back a little.
  const spentIn = sqlite.prepare(
    `SELECT coalesce(sum(CASE l."kind" WHEN 'hold' THEN l."amount_micros" WHEN 'refund' THEN -l."amount_micros" ELSE 0 END), 0) AS spent
     FROM "ledger_entries" l JOIN "tasks" t ON t."id" = l."task_id"
     WHERE l."key_id" = ? AND l."created_at" >= ? AND t."created_at" >= ? AND t."created_at" < ?`,
  );

  return {
    insert(row: LedgerInsert): void {
      entries.insert({ ...row, note: row.note ?? null });
    },
    /**
     * Held minus refunded for a key's tasks created in [from, to) (ms): the spend a budget period is
     * checked against, refunds included whenever they came.
     */
    spentIn(keyId: string, from: number, to: number): number {
      return (spentIn.get(keyId, from - CLOCK_MARGIN_MS, from, to) as { spent: number } | undefined)?.spent ?? 0;
    },
    /** Sum of balance deltas of a key: must equal its prepaid balance. */
    balanceOf(keyId: string): number {
      const row = db
        .select({ total: sql<number>`coalesce(sum(${ledgerEntries.balanceDeltaMicros}), 0)` })
        .from(ledgerEntries)
        .where(eq(ledgerEntries.keyId, keyId))
        .get();
      return row?.total ?? 0;
    },
    /** Per-kind totals for tasks (invariant checks and reports). */
    totalsByTask(taskIds: string[]): Map<string, Record<LedgerKind, number>> {
      const out = new Map<string, Record<LedgerKind, number>>();
      if (taskIds.length === 0) return out;
      const rows = db
        .select({ taskId: ledgerEntries.taskId, kind: ledgerEntries.kind, total: sql<number>`sum(${ledgerEntries.amountMicros})` })
        .from(ledgerEntries)
        .where(inArray(ledgerEntries.taskId, taskIds))
        .groupBy(ledgerEntries.taskId, ledgerEntries.kind)
        .all();
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

export type LedgerRepo = ReturnType<typeof ledgerRepo>;
