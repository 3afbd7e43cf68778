/** The callback outbox and idempotency records. */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type Database from 'better-sqlite3';
import type { Db } from '../client.ts';
import { callbackDeliveries, idempotencyKeys, type DeliveryRow, type IdempotencyRow } from '../schema/index.ts';

export type DeliveryPatch = Partial<Omit<DeliveryRow, 'id' | 'taskId' | 'keyId' | 'createdAt'>>;

export function deliveriesRepo(db: Db, sqlite: Database.Database) {
  // Partitioned by the URL's authority (host[:port], userinfo included), cut at the first '/' after '//'.
  // A URL with a query right after the host only gets a partition of its own; the worker still bounds
  // every real host in memory. Round robin: every receiver's oldest, then every second oldest, and so on.
  const authority = sql.raw("substr(substr(url, instr(url, '//') + 2), 1, instr(substr(url, instr(url, '//') + 2) || '/', '/') - 1)");
  const dueFair = (now: number, perReceiver: number, limit: number) =>
    db.all<{ id: string; url: string }>(sql`
    SELECT id, url FROM (
      SELECT id, url, next_attempt_at AS at, row_number() OVER (
        PARTITION BY ${authority}
        ORDER BY next_attempt_at, id) AS n
      FROM callback_deliveries WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ${now}
    ) WHERE n <= ${perReceiver} ORDER BY n, at, id LIMIT ${limit}`);
  const lease = sqlite.prepare('UPDATE "callback_deliveries" SET "next_attempt_at" = ?, "lease_owner" = ? WHERE "id" = ?');
  const claimDue = sqlite.transaction((now: number, perReceiver: number, limit: number, owner: string, leaseMs: number) => {
    const due = dueFair(now, perReceiver, limit);
    for (const { id } of due) lease.run(now + leaseMs, owner, id);
    return due;
  });
  return {
    /**
     * Due deliveries, at most `perReceiver` per receiver host and `limit` in all, receivers in turn: a
     * receiver whose backlog never drains cannot keep another receiver's deliveries from being read.
     */
    dueByReceiver(now: number, perReceiver: number, limit: number): { id: string; url: string }[] {
      return dueFair(now, perReceiver, limit);
    },
    /**
     * Claim due deliveries as `dueByReceiver` reads them, for `leaseMs`: each one's next try moves a
     * lease ahead, owned by `owner`, so no other replica sends it meanwhile; the claimer records the
     * outcome (and the next try) when done, and a dead claimer's deliveries are due again after the lease.
     */
    claimDue(now: number, perReceiver: number, limit: number, owner: string, leaseMs: number): { id: string; url: string }[] {
      return claimDue.immediate(now, perReceiver, limit, owner, leaseMs);
    },
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
    /**
     * Take a key: insert, or replace a record created before `expiredBefore`. Answers false when a
     * live record holds the key (another request took it first, on this replica or another).
     */
    put(row: IdempotencyRow, expiredBefore: number): boolean {
      const result = db
        .insert(idempotencyKeys)
        .values(row)
        .onConflictDoUpdate({ target: [idempotencyKeys.keyId, idempotencyKeys.idemKey], set: { ...row }, setWhere: lt(idempotencyKeys.createdAt, expiredBefore) })
        .run();
      return result.changes > 0;
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
