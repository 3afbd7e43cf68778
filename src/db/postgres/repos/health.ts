/** Learned provider health on PostgreSQL: the same answers as src/db/repos/health.ts. */
import { providerHealth, type ProviderHealthRow } from '../../schema/index.ts';
import type { HealthRepo } from '../../repos/health.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const h = pgTable(providerHealth, 'provider');
const ALL = h.selectSql;
const TARGET = ['provider', 'model'] as const;
const SET = ['outcomes', 'completions', 'consecutiveFailures', 'openUntil', 'updatedAt'] as const satisfies readonly (keyof ProviderHealthRow)[];

export function pgHealthRepo(sql: Sql): Async<HealthRepo> {
  return {
    all: () => h.all(sql, ALL, []),
    /** Insert or replace these rows (call inside a transaction for many). */
    async put(rows: readonly ProviderHealthRow[]) {
      // One lock order for every replica: two flushes upserting the same rows in different orders deadlock.
      const ordered = [...rows].sort((a, b) => (a.provider === b.provider ? (a.model < b.model ? -1 : 1) : a.provider < b.provider ? -1 : 1));
      for (const row of ordered) await h.upsert(sql, row, TARGET, SET);
    },
  };
}
