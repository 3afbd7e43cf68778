/** API key rows. */
import type Database from 'better-sqlite3';
import { desc, eq } from 'drizzle-orm';
import { fastTable } from '../fast.ts';
import type { Db } from '../client.ts';
import { apiKeys, type ApiKeyRow } from '../schema/index.ts';

export type NewApiKey = typeof apiKeys.$inferInsert;
export type ApiKeyPatch = Partial<Pick<ApiKeyRow, 'name' | 'dailyBudgetMicros' | 'monthlyBudgetMicros' | 'revokedAt'>>;

export function keysRepo(db: Db, sqlite: Database.Database) {
  const fast = fastTable(sqlite, apiKeys, 'id');
  const byHash = fast.select('WHERE "key_hash" = ?');
  const byId = fast.select('WHERE "id" = ?');
  // Read on every submit (balance and budgets): prepared once.
  const addBalance = sqlite.prepare('UPDATE "api_keys" SET "balance_micros" = "balance_micros" + ? WHERE "id" = ?');

  return {
    insert(row: NewApiKey): void {
      db.insert(apiKeys).values(row).run();
    },
    byHash(hash: string): ApiKeyRow | undefined {
      return byHash.get(hash);
    },
    byId(id: string): ApiKeyRow | undefined {
      return byId.get(id);
    },
    /**
     * The key, locked until the transaction ends (PostgreSQL: FOR UPDATE): balance and budget checks
     * of concurrent holds on two replicas run one after the other. SQLite's IMMEDIATE transactions
     * already run one at a time.
     */
    forUpdate(id: string): ApiKeyRow | undefined {
      return byId.get(id);
    },
    list(): ApiKeyRow[] {
      return db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)).all();
    },
    patch(id: string, patch: ApiKeyPatch): void {
      db.update(apiKeys).set(patch).where(eq(apiKeys.id, id)).run();
    },
    /** Move a prepaid balance; a post-paid key (null balance) stays null. */
    addBalance(id: string, delta: number): void {
      addBalance.run(delta, id);
    },
  };
}

export type KeysRepo = ReturnType<typeof keysRepo>;
