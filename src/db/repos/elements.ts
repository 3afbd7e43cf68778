/** Element id mappings. */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { elements, type ElementRow } from '../schema/index.ts';

export function elementsRepo(db: Db) {
  const byId = db.select().from(elements).where(eq(elements.id, sql.placeholder('id'))).prepare();
  return {
    insert(row: ElementRow): void {
      db.insert(elements).values(row).run();
    },
    get(id: string): ElementRow | undefined {
      return byId.get({ id });
    },
  };
}

export type ElementsRepo = ReturnType<typeof elementsRepo>;
