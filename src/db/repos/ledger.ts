/** Ledger rows: append-only, and the sums that budgets and invariant checks need. */
import { and, eq, gte, inArray, sql } from 'drizzle-orm';
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

export function ledgerRepo(db: Db, sqlite: Database.Database) {
  const entries = fastTable(sqlite, ledgerEntries, 'id');
  // Spend since a moment = what was held minus what came back; charges are already inside holds.
  const spentSince = db
    .select({
      spent: sql<number>`coalesce(sum(case ${ledgerEntries.kind} when 'hold' then ${ledgerEntries.amountMicros} when 'refund' then -${ledgerEntries.amountMicros} else 0 end), 0)`,
    })
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.keyId, sql.placeholder('keyId')), gte(ledgerEntries.createdAt, sql.placeholder('since'))))
    .prepare();

  return {
    insert(row: LedgerInsert): void {
      entries.insert({ ...row, note: row.note ?? null });
    },
    /** Held minus refunded for a key since `since` (ms): the spend a budget is checked against. */
    spentSince(keyId: string, since: number): number {
      return spentSince.get({ keyId, since })?.spent ?? 0;
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
