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
    insertJob: (row: MirrorJobRow): void => m.insert(row),
    job: (taskId: string): MirrorJobRow | undefined => jobById.get(taskId),
    updateJob: (taskId: string, patch: MirrorJobPatch): void => m.update(taskId, patch),
    /** Mirror jobs not done whose next try is due, oldest first. */
    dueJobs: (now: number, limit: number): MirrorJobRow[] => dueJobs.all(now, limit),
  };
}

export type FilesRepo = ReturnType<typeof filesRepo>;
