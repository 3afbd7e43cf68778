/**
 * File rows and output-mirror jobs. The public file route looks files up by token on every
 * request, so reads run on prepared statements.
 */
import type Database from 'better-sqlite3';
import { fastTable } from '../fast.ts';
import { files, mirrorJobs, type FileRow, type MirrorJobRow } from '../schema/index.ts';

export type FilePatch = Partial<Pick<FileRow, 'deletedAt' | 'purgedAt' | 'expiresAt' | 'durationS' | 'width' | 'height'>>;
export type MirrorJobPatch = Partial<Omit<MirrorJobRow, 'taskId' | 'createdAt'>>;

export function filesRepo(sqlite: Database.Database) {
  const f = fastTable(sqlite, files, 'id');
  const m = fastTable(sqlite, mirrorJobs, 'taskId');
  const byId = f.select('WHERE "id" = ?');
  const byToken = f.select('WHERE "token" = ?');
  // Pinned inputs are the gateway's own copies: never listed to the key.
  const firstPage = f.select(`WHERE "key_id" = ? AND "deleted_at" IS NULL AND "purpose" != 'input' ORDER BY "id" DESC LIMIT ?`);
  const nextPage = f.select(`WHERE "key_id" = ? AND "deleted_at" IS NULL AND "purpose" != 'input' AND "id" < ? ORDER BY "id" DESC LIMIT ?`);
  const expired = f.select('WHERE "expires_at" <= ? AND "purged_at" IS NULL ORDER BY "expires_at" LIMIT ?');
  const liveRefs = sqlite.prepare('SELECT count(*) AS n FROM "files" WHERE "sha256" = ? AND "purged_at" IS NULL');
  const liveHashes = sqlite.prepare('SELECT DISTINCT "sha256" AS sha FROM "files" WHERE "purged_at" IS NULL');
  // Through the (key_id, id) index: ids sort by creation time, so `id >= ?` bounds the scan to recent files.
  const recentInput = f.select(`WHERE "key_id" = ? AND "id" >= ? AND "purpose" = 'input' AND "upstream_url" = ? AND "purged_at" IS NULL ORDER BY "id" DESC LIMIT 1`);
  const jobById = m.select('WHERE "task_id" = ?');
  const dueJobs = m.select('WHERE "done_at" IS NULL AND "next_at" <= ? ORDER BY "next_at" LIMIT ?');
  const claimable = f.select('WHERE "expires_at" <= ? AND "purged_at" IS NULL AND ("lease_until" IS NULL OR "lease_until" <= ?) ORDER BY "expires_at" LIMIT ?');
  const leaseFile = sqlite.prepare('UPDATE "files" SET "lease_owner" = ?, "lease_until" = ? WHERE "id" = ?');
  const leaseJob = sqlite.prepare('UPDATE "mirror_jobs" SET "next_at" = ?, "lease_owner" = ? WHERE "task_id" = ?');
  const renewJob = sqlite.prepare(RENEW_JOB);
  const claimExpired = sqlite.transaction((now: number, limit: number, owner: string, leaseMs: number) => {
    const rows = claimable.all(now, now, limit);
    for (const r of rows) leaseFile.run(owner, now + leaseMs, r.id);
    return rows.map((r) => ({ ...r, leaseOwner: owner, leaseUntil: now + leaseMs }));
  });
  const claimJobs = sqlite.transaction((now: number, limit: number, owner: string, leaseMs: number) => {
    const rows = dueJobs.all(now, limit);
    for (const r of rows) leaseJob.run(now + leaseMs, owner, r.taskId);
    return rows.map((r) => ({ ...r, nextAt: now + leaseMs, leaseOwner: owner }));
  });

  return {
    insert: (row: FileRow): void => f.insert(row),
    get: (id: string): FileRow | undefined => byId.get(id),
    byToken: (token: string): FileRow | undefined => byToken.get(token),
    update: (id: string, patch: FilePatch): void => f.update(id, patch),
    /** A key's listed files (uploads and outputs, not deleted), newest first, after the cursor id if given. */
    listForKey: (keyId: string, limit: number, after?: string): FileRow[] => (after ? nextPage.all(keyId, after, limit) : firstPage.all(keyId, limit)),
    /** Files past their expiry whose bytes are still referenced, oldest first. */
    expired: (now: number, limit: number): FileRow[] => expired.all(now, limit),
    /** How many files still reference the blob with this hash. */
    liveRefs: (sha256: string): number => (liveRefs.get(sha256) as { n: number }).n,
    /** Every hash some file still references (start-up sweep of orphaned blobs). */
    liveHashes: (): Set<string> => new Set((liveHashes.all() as { sha: string }[]).map((r) => r.sha)),
    /** The key's newest live pinned copy of `url` whose id sorts at or after `sinceId`. */
    recentInput: (keyId: string, url: string, sinceId: string): FileRow | undefined => recentInput.get(keyId, sinceId, url),
    /**
     * Claim expired files (as `expired` reads them) for `leaseMs`, so one replica purges each: rows
     * another replica holds an unexpired lease on are skipped.
     */
    claimExpired: (now: number, limit: number, owner: string, leaseMs: number): FileRow[] => claimExpired.immediate(now, limit, owner, leaseMs),
    insertJob: (row: MirrorJobRow): void => m.insert(row),
    job: (taskId: string): MirrorJobRow | undefined => jobById.get(taskId),
    updateJob: (taskId: string, patch: MirrorJobPatch): void => m.update(taskId, patch),
    /** Mirror jobs not done whose next try is due, oldest first. */
    dueJobs: (now: number, limit: number): MirrorJobRow[] => dueJobs.all(now, limit),
    /**
     * Claim due mirror jobs for `leaseMs`: each one's next try moves a lease ahead, owned by `owner`
     * (rows come back as claimed); a dead claimer's jobs are due again after the lease.
     */
    /** Extend a claim still held by `owner` (a long download); a claim given back meanwhile stays given back. */
    renewJob: (taskId: string, owner: string, until: number): void => void renewJob.run(until, taskId, owner),
    claimJobs: (now: number, limit: number, owner: string, leaseMs: number): MirrorJobRow[] => claimJobs.immediate(now, limit, owner, leaseMs),
  };
}

/** `renewJob`'s statement: (until, taskId, owner). Shared with the PostgreSQL twin. */
export const RENEW_JOB = 'UPDATE "mirror_jobs" SET "next_at" = ? WHERE "task_id" = ? AND "lease_owner" = ? AND "done_at" IS NULL';

export type FilesRepo = ReturnType<typeof filesRepo>;
