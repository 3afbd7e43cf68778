/** API key rows. */
import { desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { apiKeys, type ApiKeyRow } from '../schema/index.ts';

export type NewApiKey = typeof apiKeys.$inferInsert;
export type ApiKeyPatch = Partial<Pick<ApiKeyRow, 'name' | 'dailyBudgetMicros' | 'monthlyBudgetMicros' | 'revokedAt'>>;

export function keysRepo(db: Db) {
  const byHash = db.select().from(apiKeys).where(eq(apiKeys.keyHash, sql.placeholder('hash'))).prepare();
  const byId = db.select().from(apiKeys).where(eq(apiKeys.id, sql.placeholder('id'))).prepare();
  const addBalance = db
    .update(apiKeys)
    .set({ balanceMicros: sql`${apiKeys.balanceMicros} + ${sql.placeholder('delta')}` })
    .where(eq(apiKeys.id, sql.placeholder('id')))
    .prepare();

  return {
    insert(row: NewApiKey): void {
      db.insert(apiKeys).values(row).run();
    },
    byHash(hash: string): ApiKeyRow | undefined {
      return byHash.get({ hash });
    },
    byId(id: string): ApiKeyRow | undefined {
      return byId.get({ id });
    },
    list(): ApiKeyRow[] {
      return db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)).all();
    },
    patch(id: string, patch: ApiKeyPatch): void {
      db.update(apiKeys).set(patch).where(eq(apiKeys.id, id)).run();
    },
    /** Move a prepaid balance; a post-paid key (null balance) stays null. */
    addBalance(id: string, delta: number): void {
      addBalance.run({ id, delta });
    },
  };
}

export type KeysRepo = ReturnType<typeof keysRepo>;
