/** The callback outbox and idempotency records. */
import { and, asc, desc, eq, isNotNull, lt, lte, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { callbackDeliveries, idempotencyKeys, type DeliveryRow, type IdempotencyRow } from '../schema/index.ts';

export type DeliveryPatch = Partial<Omit<DeliveryRow, 'id' | 'taskId' | 'keyId' | 'createdAt'>>;

export function deliveriesRepo(db: Db) {
  const due = db
    .select({ id: callbackDeliveries.id })
    .from(callbackDeliveries)
    .where(and(isNotNull(callbackDeliveries.nextAttemptAt), lte(callbackDeliveries.nextAttemptAt, sql.placeholder('now'))))
    .orderBy(asc(callbackDeliveries.nextAttemptAt))
    .limit(sql.placeholder('limit'))
    .prepare();
  return {
    /** Insert unless a delivery with this id exists (an end is announced once). */
    insert(row: DeliveryRow): void {
      db.insert(callbackDeliveries).values(row).onConflictDoNothing().run();
    },
    get(id: string): DeliveryRow | undefined {
      return db.select().from(callbackDeliveries).where(eq(callbackDeliveries.id, id)).get();
    },
    forTask(taskId: string): DeliveryRow[] {
      return db.select().from(callbackDeliveries).where(eq(callbackDeliveries.taskId, taskId)).orderBy(desc(callbackDeliveries.createdAt)).all();
    },
    update(id: string, patch: DeliveryPatch): void {
      db.update(callbackDeliveries).set(patch).where(eq(callbackDeliveries.id, id)).run();
    },
    due(now: number, limit: number): string[] {
      return due.all({ now, limit }).map((r) => r.id);
    },
    all(): DeliveryRow[] {
      return db.select().from(callbackDeliveries).all();
    },
  };
}

export function idempotencyRepo(db: Db) {
  const get = db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.keyId, sql.placeholder('keyId')), eq(idempotencyKeys.idemKey, sql.placeholder('idemKey'))))
    .prepare();
  return {
    get(keyId: string, idemKey: string): IdempotencyRow | undefined {
      return get.get({ keyId, idemKey });
    },
    /** Take a key (replacing an expired record). */
    put(row: IdempotencyRow): void {
      db.insert(idempotencyKeys)
        .values(row)
        .onConflictDoUpdate({ target: [idempotencyKeys.keyId, idempotencyKeys.idemKey], set: { ...row } })
        .run();
    },
    complete(keyId: string, idemKey: string, statusCode: number, response: string): void {
      db.update(idempotencyKeys)
        .set({ statusCode, response })
        .where(and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idemKey, idemKey)))
        .run();
    },
    release(keyId: string, idemKey: string): void {
      db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idemKey, idemKey))).run();
    },
    purgeBefore(cutoff: number): void {
      db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, cutoff)).run();
    },
  };
}

export type DeliveriesRepo = ReturnType<typeof deliveriesRepo>;
export type IdempotencyRepo = ReturnType<typeof idempotencyRepo>;
