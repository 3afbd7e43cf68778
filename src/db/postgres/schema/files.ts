/** PostgreSQL twin of src/db/schema/files.ts (column meanings are documented there). */
import { pgTable, bigint, doublePrecision, index, uniqueIndex } from 'drizzle-orm/pg-core';
import { text } from './text.ts';
import type { FilePurpose } from '../../schema/files.ts';
import { apiKeys } from './keys.ts';

const int = (name: string) => bigint(name, { mode: 'number' });

export const files = pgTable(
  'files',
  {
    id: text('id').primaryKey(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    purpose: text('purpose').$type<FilePurpose>().notNull(),
    token: text('token').notNull(),
    sha256: text('sha256').notNull(),
    bytes: int('bytes').notNull(),
    contentType: text('content_type').notNull(),
    durationS: doublePrecision('duration_s'),
    width: int('width'),
    height: int('height'),
    taskId: text('task_id'),
    upstreamUrl: text('upstream_url'),
    createdAt: int('created_at').notNull(),
    expiresAt: int('expires_at').notNull(),
    deletedAt: int('deleted_at'),
    purgedAt: int('purged_at'),
    leaseOwner: text('lease_owner'),
    leaseUntil: int('lease_until'),
  },
  (t) => [
    uniqueIndex('files_token').on(t.token),
    index('files_key_id').on(t.keyId, t.id),
    index('files_sha256').on(t.sha256),
    index('files_expires').on(t.expiresAt),
  ],
);

export const mirrorJobs = pgTable(
  'mirror_jobs',
  {
    taskId: text('task_id').primaryKey(),
    attemptId: text('attempt_id').notNull(),
    upstreamStatus: text('upstream_status').notNull(),
    outcome: text('outcome').$type<'mirrored' | 'failed'>(),
    fileIds: text('file_ids').notNull().default('[]'),
    tries: int('tries').notNull().default(0),
    nextAt: int('next_at').notNull(),
    lastError: text('last_error'),
    leaseOwner: text('lease_owner'),
    doneAt: int('done_at'),
    createdAt: int('created_at').notNull(),
    updatedAt: int('updated_at').notNull(),
  },
  (t) => [index('mirror_jobs_due').on(t.doneAt, t.nextAt)],
);
