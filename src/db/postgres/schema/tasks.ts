/** PostgreSQL twin of src/db/schema/tasks.ts (column meanings are documented there). */
import { pgTable, bigint, boolean, index, uniqueIndex } from 'drizzle-orm/pg-core';
import { text } from './text.ts';
import type { AttemptStatus, TaskStatus } from '../../schema/tasks.ts';
import { apiKeys } from './keys.ts';

const int = (name: string) => bigint(name, { mode: 'number' });

export const tasks = pgTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    model: text('model').notNull(),
    quality: text('quality').notNull(),
    status: text('status').$type<TaskStatus>().notNull(),
    progress: int('progress').notNull().default(0),
    request: text('request').notNull(),
    callbackUrl: text('callback_url'),
    billingRule: text('billing_rule').notNull(),
    billableUnits: int('billable_units').notNull(),
    unitPriceMicros: int('unit_price_micros').notNull(),
    listPriced: boolean('list_priced').notNull(),
    reservedMicros: int('reserved_micros').notNull(),
    chargedMicros: int('charged_micros').notNull().default(0),
    refundedMicros: int('refunded_micros').notNull().default(0),
    upstreamCostMicros: int('upstream_cost_micros').notNull().default(0),
    provider: text('provider'),
    pinnedProvider: text('pinned_provider'),
    results: text('results'),
    resultData: text('result_data'),
    resultFiles: text('result_files'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    estimatedTime: int('estimated_time'),
    nextPollAt: int('next_poll_at'),
    polls: int('polls').notNull().default(0),
    notFoundStreak: int('not_found_streak').notNull().default(0),
    producedUnits: int('produced_units'),
    underbilled: boolean('underbilled').notNull().default(false),
    route: text('route'),
    leaseOwner: text('lease_owner'),
    createdAt: int('created_at').notNull(),
    updatedAt: int('updated_at').notNull(),
    finishedAt: int('finished_at'),
  },
  (t) => [
    index('tasks_key_id').on(t.keyId, t.id),
    index('tasks_next_poll').on(t.nextPollAt),
    index('tasks_provider_next_poll').on(t.provider, t.nextPollAt),
    index('tasks_created').on(t.createdAt),
  ],
);

export const attempts = pgTable(
  'attempts',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull().references(() => tasks.id),
    seq: int('seq').notNull(),
    providerId: text('provider_id').notNull(),
    upstreamId: text('upstream_id'),
    webhookToken: text('webhook_token'),
    upstreamHandle: text('upstream_handle'),
    status: text('status').$type<AttemptStatus>().notNull(),
    unitCostMicros: int('unit_cost_micros').notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: int('created_at').notNull(),
    updatedAt: int('updated_at').notNull(),
  },
  (t) => [uniqueIndex('attempts_task_seq').on(t.taskId, t.seq), uniqueIndex('attempts_webhook_token').on(t.webhookToken)],
);
