/** Learned provider health (per provider × model), read once at start and written behind. */
import { sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { providerHealth, type ProviderHealthRow } from '../schema/index.ts';

export function healthRepo(db: Db) {
  return {
    all(): ProviderHealthRow[] {
      return db.select().from(providerHealth).all();
    },
    /** Insert or replace these rows (call inside a transaction for many). */
    put(rows: readonly ProviderHealthRow[]): void {
      for (const row of rows) {
        db.insert(providerHealth)
          .values(row)
          .onConflictDoUpdate({
            target: [providerHealth.provider, providerHealth.model],
            set: {
              outcomes: sql`excluded.outcomes`,
              completions: sql`excluded.completions`,
              consecutiveFailures: sql`excluded.consecutive_failures`,
              openUntil: sql`excluded.open_until`,
              updatedAt: sql`excluded.updated_at`,
            },
          })
          .run();
      }
    },
  };
}

export type HealthRepo = ReturnType<typeof healthRepo>;
