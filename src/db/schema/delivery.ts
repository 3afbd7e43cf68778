import { sqliteTable, text, integer, index, primaryKey } from 'drizzle-orm/sqlite-core';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * The callback outbox: one row per task end event, written in the same transaction as the end.
 * `id` is the stable `webhook-id` receivers de-duplicate on; retries and re-sends keep it.
 */
export const callbackDeliveries = sqliteTable(
  'callback_deliveries',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull(),
    keyId: text('key_id').notNull(),
    url: text('url').notNull(),
    event: text('event').notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    /** When to try next; null once delivered or given up. */
    nextAttemptAt: integer('next_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    /** The replica sending it; a claim moves `next_attempt_at` a lease ahead (taken over if it dies). */
    leaseOwner: text('lease_owner'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [index('callbacks_next').on(t.nextAttemptAt), index('callbacks_task').on(t.taskId)],
);

/**
 * Idempotency keys, per API key, kept 24 h. Taken in the same transaction as the task and its hold;
 * `statusCode`/`response` are filled once the first request has its answer (replayed byte-for-byte).
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    keyId: text('key_id').notNull(),
    idemKey: text('idem_key').notNull(),
    requestHash: text('request_hash').notNull(),
    taskId: text('task_id'),
    statusCode: integer('status_code'),
    response: text('response'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.idemKey] }), index('idempotency_created').on(t.createdAt)],
);

export type DeliveryRow = typeof callbackDeliveries.$inferSelect;
export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;
