/** PostgreSQL twin of src/db/schema/delivery.ts (column meanings are documented there). */
import { pgTable, bigint, index, primaryKey } from 'drizzle-orm/pg-core';
import { text } from './text.ts';
import type { DeliveryStatus } from '../../schema/delivery.ts';

const int = (name: string) => bigint(name, { mode: 'number' });

export const callbackDeliveries = pgTable(
  'callback_deliveries',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull(),
    keyId: text('key_id').notNull(),
    url: text('url').notNull(),
    event: text('event').notNull(),
    payload: text('payload').notNull(),
    status: text('status').$type<DeliveryStatus>().notNull(),
    attempts: int('attempts').notNull().default(0),
    nextAttemptAt: int('next_attempt_at'),
    lastStatusCode: int('last_status_code'),
    lastError: text('last_error'),
    leaseOwner: text('lease_owner'),
    createdAt: int('created_at').notNull(),
    updatedAt: int('updated_at').notNull(),
    deliveredAt: int('delivered_at'),
  },
  (t) => [index('callbacks_next').on(t.nextAttemptAt), index('callbacks_task').on(t.taskId)],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    keyId: text('key_id').notNull(),
    idemKey: text('idem_key').notNull(),
    requestHash: text('request_hash').notNull(),
    taskId: text('task_id'),
    statusCode: int('status_code'),
    response: text('response'),
    createdAt: int('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.idemKey] }), index('idempotency_created').on(t.createdAt)],
);
