/**
 * The callback outbox and idempotency records on PostgreSQL: the same answers as
 * src/db/repos/deliveries.ts, with the outbox claim as one statement replicas can run at once.
 */
import { callbackDeliveries, idempotencyKeys, type DeliveryRow, type IdempotencyRow } from '../../schema/index.ts';
import type { DeliveriesRepo, DeliveryPatch, IdempotencyRepo } from '../../repos/deliveries.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const d = pgTable(callbackDeliveries, 'id');
const idem = pgTable(idempotencyKeys, 'keyId');

// Partitioned by the URL's authority (host[:port], userinfo included): what follows the first '//' up
// to the next '/', as SQLite's substr/instr expression cuts it. Round robin: every receiver's oldest,
// then every second oldest, and so on. Ids tie-break in byte order, as SQLite's BINARY collation.
const FAIR = `SELECT "id", "url", at, n FROM (
    SELECT "id", "url", "next_attempt_at" AS at, row_number() OVER (
      PARTITION BY split_part(substr("url", strpos("url", '//') + 2), '/', 1)
      ORDER BY "next_attempt_at", "id" COLLATE "C") AS n
    FROM "callback_deliveries" WHERE "next_attempt_at" IS NOT NULL AND "next_attempt_at" <= $1::bigint
  ) f WHERE n <= $2 ORDER BY n, at, "id" COLLATE "C" LIMIT $3`;
const DUE = `SELECT "id", "url" FROM (${FAIR}) fair ORDER BY n, at, "id" COLLATE "C"`;
// The fair pick cannot lock (window functions forbid FOR UPDATE), so its rows are locked after it,
// skipping those another replica holds; one that replica claimed and committed meanwhile is re-checked
// against `next_attempt_at <= now` once locked and dropped. Then each moves a lease ahead.
const CLAIM = `WITH fair AS MATERIALIZED (${FAIR}), locked AS (
    SELECT "id" FROM "callback_deliveries"
    WHERE "id" = ANY(ARRAY(SELECT "id" FROM fair)) AND "next_attempt_at" IS NOT NULL AND "next_attempt_at" <= $1::bigint
    FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE "callback_deliveries" c SET "next_attempt_at" = $1::bigint + $5::bigint, "lease_owner" = $4
    FROM locked WHERE c."id" = locked."id" RETURNING c."id", c."url"
  ) SELECT claimed."id", claimed."url" FROM claimed JOIN fair ON fair."id" = claimed."id" ORDER BY fair.n, fair.at, claimed."id" COLLATE "C"`;
const GET = `${d.selectSql} WHERE "id" = $1`;
const FOR_TASK = `${d.selectSql} WHERE "task_id" = $1 ORDER BY "created_at" DESC`;
const ALL = d.selectSql;

type Due = { id: string; url: string };

export function pgDeliveriesRepo(sql: Sql): Async<DeliveriesRepo> {
  return {
    dueByReceiver: (now: number, perReceiver: number, limit: number) => sql.rows<Due>(DUE, [now, perReceiver, limit]),
    claimDue: (now: number, perReceiver: number, limit: number, owner: string, leaseMs: number) =>
      sql.rows<Due>(CLAIM, [now, perReceiver, limit, owner, leaseMs]),
    /** Insert unless a delivery with this id exists (an end is announced once). */
    insert: (row: DeliveryRow) => d.insert(sql, row, 'ON CONFLICT DO NOTHING'),
    get: (id: string) => d.get(sql, GET, [id]),
    forTask: (taskId: string) => d.all(sql, FOR_TASK, [taskId]),
    update: (id: string, patch: DeliveryPatch) => d.update(sql, id, patch),
    all: () => d.all(sql, ALL, []),
  };
}

const IDEM_GET = `${idem.selectSql} WHERE "key_id" = $1 AND "idem_key" = $2`;
/**
 * Take a key: insert, or replace a record created before $8, in one statement. A live record is never
 * replaced: of two replicas that both found the key free, the later one waits on the first one's row,
 * then finds it live and answers false (as SQLite's conditional upsert does).
 */
const IDEM_PUT = `INSERT INTO "idempotency_keys" ("key_id", "idem_key", "request_hash", "task_id", "status_code", "response", "created_at")
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT ("key_id", "idem_key") DO UPDATE SET "request_hash" = excluded."request_hash", "task_id" = excluded."task_id",
    "status_code" = excluded."status_code", "response" = excluded."response", "created_at" = excluded."created_at"
  WHERE "idempotency_keys"."created_at" < $8::bigint`;
const IDEM_COMPLETE = 'UPDATE "idempotency_keys" SET "status_code" = $3, "response" = $4 WHERE "key_id" = $1 AND "idem_key" = $2';
const IDEM_RELEASE = 'DELETE FROM "idempotency_keys" WHERE "key_id" = $1 AND "idem_key" = $2';
const IDEM_PURGE = 'DELETE FROM "idempotency_keys" WHERE "created_at" < $1';

export function pgIdempotencyRepo(sql: Sql): Async<IdempotencyRepo> {
  return {
    get: (keyId: string, idemKey: string) => idem.get(sql, IDEM_GET, [keyId, idemKey]),
    put: async (row: IdempotencyRow, expiredBefore: number) =>
      (await sql.exec(IDEM_PUT, [row.keyId, row.idemKey, row.requestHash, row.taskId, row.statusCode, row.response, row.createdAt, expiredBefore])) > 0,
    complete: async (keyId: string, idemKey: string, statusCode: number, response: string) => {
      await sql.exec(IDEM_COMPLETE, [keyId, idemKey, statusCode, response]);
    },
    release: async (keyId: string, idemKey: string) => {
      await sql.exec(IDEM_RELEASE, [keyId, idemKey]);
    },
    purgeBefore: async (cutoff: number) => {
      await sql.exec(IDEM_PURGE, [cutoff]);
    },
  };
}
