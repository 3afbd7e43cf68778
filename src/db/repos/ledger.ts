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

/** A UTC day as the spend rollup keys it; past year 9999, a day after every real one. */
function dayOf(ms: number): string {
  return ms >= Date.UTC(10_000, 0, 1) ? '9999-12-32' : new Date(Math.max(0, ms)).toISOString().slice(0, 10);
}

export function ledgerRepo(db: Db, sqlite: Database.Database) {
  const entries = fastTable(sqlite, ledgerEntries, 'id');
  // A budget period's spend = held minus refunded for the tasks *created* in it, whenever those rows
  // were written: yesterday's task refunded today gives back yesterday's budget, not today's. That is
  // the spend report's rule, so it reads the same trigger-kept rollup (a few rows per day, not a scan
  // of the period's ledger); task rows mirror their ledger rows in the same transaction.
  const spentIn = sqlite.prepare(
    'SELECT coalesce(sum("reserved_micros" - "refunded_micros"), 0) AS spent FROM "spend_daily" WHERE "key_id" = ? AND "day" >= ? AND "day" < ?',
  );

  return {
    insert(row: LedgerInsert): void {
      entries.insert({ ...row, note: row.note ?? null });
    },
    /**
     * Held minus refunded for a key's tasks created in the UTC days of [from, to) (ms, day bounds):
     * the spend a budget period is checked against, refunds included whenever they came.
     */
    spentIn(keyId: string, from: number, to: number): number {
      return (spentIn.get(keyId, dayOf(from), dayOf(to)) as { spent: number } | undefined)?.spent ?? 0;
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
