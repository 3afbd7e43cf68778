import { sqliteTable, text, integer, real, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { apiKeys } from './keys.ts';

/**
 * `upload`: sent by the key (POST /v1/files); `output`: a task's mirrored result; `input`: a task's
 * reference media pinned by the gateway (not listed to the key: the gateway's own copy).
 */
export const FILE_PURPOSES = ['upload', 'output', 'input'] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

/**
 * One stored file as its key sees it. The bytes live once per sha256 in the blob store; a blob is
 * referenced by every row with `purged_at` null, so deleting one file never breaks another.
 */
export const files = sqliteTable(
  'files',
  {
    id: text('id').primaryKey(),
    keyId: text('key_id').notNull().references(() => apiKeys.id),
    purpose: text('purpose', { enum: FILE_PURPOSES }).notNull(),
    /** Secret path segment of the public URL (random, ≥128 bits; unrelated to id and content). */
    token: text('token').notNull(),
    sha256: text('sha256').notNull(),
    bytes: integer('bytes').notNull(),
    contentType: text('content_type').notNull(),
    /** Videos: duration from the container header, when it could be read. */
    durationS: real('duration_s'),
    width: integer('width'),
    height: integer('height'),
    /** Outputs and pinned inputs: the task and the upstream URL the bytes came from. */
    taskId: text('task_id'),
    upstreamUrl: text('upstream_url'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    /** Set by DELETE: the file is gone for its key (404). */
    deletedAt: integer('deleted_at'),
    /** Set when the file stops referencing its blob (deleted or expired); the row stays for history. */
    purgedAt: integer('purged_at'),
    /** The replica purging its bytes, and until when (an expiry sweep claims rows before deleting). */
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
  },
  (t) => [
    uniqueIndex('files_token').on(t.token),
    index('files_key_id').on(t.keyId, t.id),
    index('files_sha256').on(t.sha256),
    index('files_expires').on(t.expiresAt),
  ],
);

/**
 * Output mirrors waiting to run (or finished, kept for history). A task whose upstream completed
 * sits here, not yet `completed`, until its results are in the store or the mirror gave up.
 */
export const mirrorJobs = sqliteTable(
  'mirror_jobs',
  {
    taskId: text('task_id').primaryKey(),
    attemptId: text('attempt_id').notNull(),
    /** The upstream's completion (UpstreamStatus JSON), replayed into the task's completion. */
    upstreamStatus: text('upstream_status').notNull(),
    /** null while pending; `mirrored` or `failed` once decided (the completion may still be running). */
    outcome: text('outcome', { enum: ['mirrored', 'failed'] }),
    /** JSON list of file ids already stored, in output order (a resumed mirror skips them). */
    fileIds: text('file_ids').notNull().default('[]'),
    tries: integer('tries').notNull().default(0),
    nextAt: integer('next_at').notNull(),
    lastError: text('last_error'),
    /** The replica running it; a claim moves `next_at` a lease ahead (taken over if it dies). */
    leaseOwner: text('lease_owner'),
    /** Set once the task's completion ran: nothing left to do. */
    doneAt: integer('done_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('mirror_jobs_due').on(t.doneAt, t.nextAt)],
);

export type FileRow = typeof files.$inferSelect;
export type MirrorJobRow = typeof mirrorJobs.$inferSelect;
