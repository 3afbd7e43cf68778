/**
 * File rows and output-mirror jobs on PostgreSQL: the same answers as src/db/repos/files.ts, with the
 * expiry and mirror claims as single statements replicas can run at once (FOR UPDATE SKIP LOCKED).
 */
import { files, mirrorJobs, type FileRow, type MirrorJobRow } from '../../schema/index.ts';
import { RENEW_JOB, type FilePatch, type FilesRepo, type MirrorJobPatch } from '../../repos/files.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

// SQLite's statement with PostgreSQL placeholders: (until, taskId, owner).
const RENEW_JOB_SQL = RENEW_JOB.replace('?', '$1::bigint').replace('?', '$2').replace('?', '$3');

const f = pgTable(files, 'id');
const m = pgTable(mirrorJobs, 'taskId');
const BY_ID = `${f.selectSql} WHERE "id" = $1`;
const BY_TOKEN = `${f.selectSql} WHERE "token" = $1`;
// Pinned inputs are the gateway's own copies: never listed to the key.
const FIRST_PAGE = `${f.selectSql} WHERE "key_id" = $1 AND "deleted_at" IS NULL AND "purpose" != 'input' ORDER BY "id" DESC LIMIT $2`;
const NEXT_PAGE = `${f.selectSql} WHERE "key_id" = $1 AND "deleted_at" IS NULL AND "purpose" != 'input' AND "id" < $2 ORDER BY "id" DESC LIMIT $3`;
const EXPIRED = `${f.selectSql} WHERE "expires_at" <= $1 AND "purged_at" IS NULL ORDER BY "expires_at" LIMIT $2`;
const LIVE_REFS = 'SELECT count(*) AS n FROM "files" WHERE "sha256" = $1 AND "purged_at" IS NULL';
const LIVE_HASHES = 'SELECT DISTINCT "sha256" AS sha FROM "files" WHERE "purged_at" IS NULL';
const RECENT_INPUT = `${f.selectSql} WHERE "key_id" = $1 AND "id" >= $2 AND "purpose" = 'input' AND "upstream_url" = $3 AND "purged_at" IS NULL ORDER BY "id" DESC LIMIT 1`;
const JOB = `${m.selectSql} WHERE "task_id" = $1`;
const DUE_JOBS = `${m.selectSql} WHERE "done_at" IS NULL AND "next_at" <= $1 ORDER BY "next_at" LIMIT $2`;
// Claims: lock the rows (skipping those another replica is claiming right now), lease them, answer
// them as claimed, oldest first. A row another replica leased and committed meanwhile is re-checked
// against the WHERE clause once locked and dropped.
const CLAIM_EXPIRED = `WITH due AS (
    SELECT "id", "expires_at" AS at FROM "files"
    WHERE "expires_at" <= $1::bigint AND "purged_at" IS NULL AND ("lease_until" IS NULL OR "lease_until" <= $1::bigint)
    ORDER BY "expires_at" LIMIT $2 FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE "files" t SET "lease_owner" = $3, "lease_until" = $1::bigint + $4::bigint FROM due WHERE t."id" = due."id"
    RETURNING ${f.columnsOf('t')}, due.at AS "claimOrder"
  ) SELECT * FROM claimed ORDER BY "claimOrder"`;
const CLAIM_JOBS = `WITH due AS (
    SELECT "task_id", "next_at" AS at FROM "mirror_jobs"
    WHERE "done_at" IS NULL AND "next_at" <= $1::bigint ORDER BY "next_at" LIMIT $2 FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE "mirror_jobs" t SET "next_at" = $1::bigint + $4::bigint, "lease_owner" = $3 FROM due WHERE t."task_id" = due."task_id"
    RETURNING ${m.columnsOf('t')}, due.at AS "claimOrder"
  ) SELECT * FROM claimed ORDER BY "claimOrder"`;

/** Rows of a claim, without the column that only ordered them. */
function claimed<R>(rows: Record<string, unknown>[], map: (row: Record<string, unknown>) => R): R[] {
  return rows.map((r) => {
    delete r.claimOrder;
    return map(r);
  });
}

export function pgFilesRepo(sql: Sql): Async<FilesRepo> {
  return {
    insert: (row: FileRow) => f.insert(sql, row),
    get: (id: string) => f.get(sql, BY_ID, [id]),
    byToken: (token: string) => f.get(sql, BY_TOKEN, [token]),
    update: (id: string, patch: FilePatch) => f.update(sql, id, patch),
    listForKey: (keyId: string, limit: number, after?: string) =>
      after ? f.all(sql, NEXT_PAGE, [keyId, after, limit]) : f.all(sql, FIRST_PAGE, [keyId, limit]),
    expired: (now: number, limit: number) => f.all(sql, EXPIRED, [now, limit]),
    liveRefs: async (sha256: string) => (await sql.row<{ n: number }>(LIVE_REFS, [sha256]))!.n,
    liveHashes: async () => new Set((await sql.rows<{ sha: string }>(LIVE_HASHES)).map((r) => r.sha)),
    recentInput: (keyId: string, url: string, sinceId: string) => f.get(sql, RECENT_INPUT, [keyId, sinceId, url]),
    claimExpired: async (now: number, limit: number, owner: string, leaseMs: number) =>
      claimed(await sql.rows<Record<string, unknown>>(CLAIM_EXPIRED, [now, limit, owner, leaseMs]), f.map),
    insertJob: (row: MirrorJobRow) => m.insert(sql, row),
    job: (taskId: string) => m.get(sql, JOB, [taskId]),
    updateJob: (taskId: string, patch: MirrorJobPatch) => m.update(sql, taskId, patch),
    renewJob: async (taskId: string, owner: string, until: number) => void (await sql.exec(RENEW_JOB_SQL, [until, taskId, owner])),
    dueJobs: (now: number, limit: number) => m.all(sql, DUE_JOBS, [now, limit]),
    claimJobs: async (now: number, limit: number, owner: string, leaseMs: number) =>
      claimed(await sql.rows<Record<string, unknown>>(CLAIM_JOBS, [now, limit, owner, leaseMs]), m.map),
  };
}
