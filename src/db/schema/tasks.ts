import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { apiKeys } from './keys.ts';

export const TASK_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/**
 * Attempt states. `submitting` is written before the upstream create is sent (the intent), so a
 * crash in between is reconciled at start instead of forgotten; `unknown` means the create was sent
 * and no answer came back.
 */
export const ATTEMPT_STATUSES = ['submitting', 'pending', 'processing', 'completed', 'failed', 'cancelled', 'unknown'] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

/** One client task; money columns are integer micro-USD and mirror the ledger rows of the task. */
export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    model: text('model').notNull(),
    quality: text('quality').notNull(),
    status: text('status', { enum: TASK_STATUSES }).notNull(),
    progress: integer('progress').notNull().default(0),
    /** The normalized request (JSON), replayed to each provider tried. */
    request: text('request').notNull(),
    callbackUrl: text('callback_url'),
    billingRule: text('billing_rule').notNull(),
    billableUnits: integer('billable_units').notNull(),
    unitPriceMicros: integer('unit_price_micros').notNull(),
    /** Whether the key pays list prices (fixed) or the upstream cost of the provider that runs it. */
    listPriced: integer('list_priced', { mode: 'boolean' }).notNull(),
    reservedMicros: integer('reserved_micros').notNull(),
    chargedMicros: integer('charged_micros').notNull().default(0),
    refundedMicros: integer('refunded_micros').notNull().default(0),
    upstreamCostMicros: integer('upstream_cost_micros').notNull().default(0),
    provider: text('provider'),
    /** Element affinity: only this provider may run the task. */
    pinnedProvider: text('pinned_provider'),
    results: text('results'),
    resultData: text('result_data'),
    /** Mirrored outputs (CONTRACT §8 `result_files`, JSON); null when results are the upstream's URLs. */
    resultFiles: text('result_files'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    estimatedTime: integer('estimated_time'),
    /** When the poller should look at this task next; null once it needs no more polling. */
    nextPollAt: integer('next_poll_at'),
    polls: integer('polls').notNull().default(0),
    /** Status reads in a row that answered "not found"; a read that finds the task resets it. */
    notFoundStreak: integer('not_found_streak').notNull().default(0),
    /** Units the upstream reported producing (uncapped); null until completed or when it told nothing. */
    producedUnits: integer('produced_units'),
    /** Produced more than the key was billed for (the charge is capped at the hold): finance must see it. */
    underbilled: integer('underbilled', { mode: 'boolean' }).notNull().default(false),
    /** The routing preferences in force for this task (key default merged with the request's, JSON). */
    route: text('route'),
    /**
     * The replica that claimed this task's due poll. A claim moves `next_poll_at` a lease ahead, so a
     * replica that dies mid-poll leaves the task due again when the lease runs out.
     */
    leaseOwner: text('lease_owner'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('tasks_key_id').on(t.keyId, t.id),
    index('tasks_next_poll').on(t.nextPollAt),
    // The poller reads due work per provider, so one provider's backlog cannot hide another's.
    index('tasks_provider_next_poll').on(t.provider, t.nextPollAt),
    // Spend reports select by creation time.
    index('tasks_created').on(t.createdAt),
  ],
);

/** One upstream try of a task, in order; failover adds rows. */
export const attempts = sqliteTable(
  'attempts',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull().references(() => tasks.id),
    seq: integer('seq').notNull(),
    providerId: text('provider_id').notNull(),
    upstreamId: text('upstream_id'),
    /** Secret in this attempt's inbound webhook URL (`/webhooks/{provider}/{token}`). */
    webhookToken: text('webhook_token'),
    /**
     * Opaque data the adapter returned with the create (e.g. fal's status/response/cancel URLs),
     * handed back to it on every poll and cancel of this attempt.
     */
    upstreamHandle: text('upstream_handle'),
    status: text('status', { enum: ATTEMPT_STATUSES }).notNull(),
    /** What this provider charges per unit for this task, micro-USD. */
    unitCostMicros: integer('unit_cost_micros').notNull(),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('attempts_task_seq').on(t.taskId, t.seq), uniqueIndex('attempts_webhook_token').on(t.webhookToken)],
);

export type TaskRow = typeof tasks.$inferSelect;
export type AttemptRow = typeof attempts.$inferSelect;
