/**
 * The file store: file rows (per key, each with its own random URL) over content-addressed blobs
 * (one per sha256). Uploads, pinned inputs and mirrored outputs all come in through {@link
 * FileStore.put}. Rows are never removed: expiry and DELETE drop the file's claim on its blob, and
 * the blob goes when no file claims it any more.
 *
 * Claiming and releasing a blob follow their row change at once (commit + insert, update + count +
 * remove). A crash between the two steps leaves only an unclaimed blob, swept at start. Replicas
 * sharing one folder (PostgreSQL) can race an upload of the same bytes against a release's count;
 * docs/deployment.md says so.
 */
import { LEASE_MS } from '../leases.ts';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.ts';
import type { Store } from '../db/store.ts';
import type { FilePurpose, FileRow } from '../db/schema/index.ts';
import { newId } from '../ids.ts';
import { TooLargeError, type BlobStore } from './blob-store.ts';
import { readHeader } from './header.ts';
import { isVideo, sniffType, type AcceptedType } from './sniff.ts';

export { TooLargeError };

/** The bytes are not one of the accepted types. */
export class UnsupportedTypeError extends Error {
  override name = 'UnsupportedTypeError';
}

/** What a new file is, besides its bytes. */
export interface PutMeta {
  keyId: string;
  purpose: FilePurpose;
  maxBytes: number;
  taskId?: string;
  upstreamUrl?: string;
}

/** Where a URL points, when it is one of ours. */
export type UrlLookup = { kind: 'foreign' } | { kind: 'live'; row: FileRow } | { kind: 'gone' };

const EXT: Record<AcceptedType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
};

/** Where files live when the config does not say: a `files` folder beside the database. */
export function defaultFilesDir(config: Config, dbPath: string): string {
  if (config.files.dir) return resolve(config.files.dir);
  // An in-memory database has no folder; its files get a fresh one (never another store's).
  if (dbPath === ':memory:') return mkdtempSync(join(tmpdir(), 'reelroute-files-'));
  // PostgreSQL: no database file to sit beside; the shared folder must be named.
  if (/^postgres(ql)?:/i.test(dbPath)) throw new ConfigError('files.dir: required with PostgreSQL (a folder every replica mounts)');
  return join(dirname(resolve(dbPath)), 'files');
}

export class FileStore {
  private loopbackBase: string | null = null;

  constructor(
    private readonly opts: { store: Store; blobs: BlobStore; config: Config; now: () => number; log: Logger },
  ) {}

  get blobs(): BlobStore {
    return this.opts.blobs;
  }

  /** Demo mode: upstreams (the in-process emulators) reach the gateway on its loopback address. */
  useLoopbackBase(url: string): void {
    this.loopbackBase = url.replace(/\/+$/, '');
  }

  /** Origin (and path prefix) of public file URLs, or null when upstreams cannot reach the gateway. */
  base(): string | null {
    const configured = this.opts.config.server.public_base_url;
    return configured ? configured.replace(/\/+$/, '') : this.loopbackBase;
  }

  /** Whether quoted reference media are pinned (stored and handed upstream as our URL). */
  pinInputs(): boolean {
    return this.opts.config.files.pin_inputs ?? this.base() !== null;
  }

  /** The public URL of a file (null without a base). */
  urlOf(row: FileRow): string | null {
    const base = this.base();
    return base ? `${base}/files/${row.token}.${EXT[row.contentType as AcceptedType] ?? 'bin'}` : null;
  }

  /** Whether a file still serves bytes at this moment. */
  isLive(row: FileRow): boolean {
    return row.purgedAt === null && row.deletedAt === null && row.expiresAt > this.opts.now();
  }

  /** The file behind a public path segment (`<token>.<ext>`), if live. */
  async byPublicName(name: string): Promise<FileRow | undefined> {
    const token = name.replace(/\.[a-z0-9]{1,5}$/, '');
    const row = await this.opts.store.files.byToken(token);
    return row && this.isLive(row) ? row : undefined;
  }

  /** The key's live pinned copy of `url` created at or after `sinceId` (ids sort by creation time). */
  async recentInput(keyId: string, url: string, sinceId: string): Promise<FileRow | undefined> {
    const row = await this.opts.store.files.recentInput(keyId, url, sinceId);
    return row && this.isLive(row) ? row : undefined;
  }

  /** Whether `url` names one of our files (under the public base), and whether it still serves. */
  async lookupUrl(url: string): Promise<UrlLookup> {
    const base = this.base();
    if (!base || !url.startsWith(`${base}/files/`)) return { kind: 'foreign' };
    const name = url.slice(base.length + '/files/'.length);
    if (name.includes('/') || name.includes('?') || name.includes('#')) return { kind: 'foreign' };
    const row = await this.byPublicName(name);
    return row ? { kind: 'live', row } : { kind: 'gone' };
  }

  /**
   * Stream `source` into the store as a new file. Rejects with TooLargeError past `maxBytes` and
   * with UnsupportedTypeError as soon as the first bytes show another type; nothing is kept then.
   */
  async put(source: Readable | AsyncIterable<Uint8Array>, meta: PutMeta): Promise<FileRow> {
    const { store, blobs, config, now } = this.opts;
    let type: AcceptedType | null = null;
    const pending = await blobs.write(source, {
      maxBytes: meta.maxBytes,
      onHead: async (head) => {
        type = await sniffType(head);
        if (!type) throw new UnsupportedTypeError('the file is not a PNG, JPEG, WEBP, MP4, MOV or WEBM (read from its bytes)');
      },
    });
    const contentType = type as AcceptedType | null;
    if (!contentType) {
      pending.discard();
      throw new UnsupportedTypeError('the file is empty');
    }
    const at = now();
    const row: FileRow = {
      id: newId('file', at),
      keyId: meta.keyId,
      purpose: meta.purpose,
      token: randomBytes(24).toString('base64url'),
      sha256: pending.sha256,
      bytes: pending.bytes,
      contentType,
      durationS: null,
      width: null,
      height: null,
      taskId: meta.taskId ?? null,
      upstreamUrl: meta.upstreamUrl ?? null,
      createdAt: at,
      expiresAt: at + Math.round(config.files.retention_hours * 3_600_000),
      deletedAt: null,
      purgedAt: null,
      leaseOwner: null,
      leaseUntil: null,
    };
    // Claim the blob, then record the claim (see the file comment).
    try {
      pending.commit();
      await store.files.insert(row);
    } catch (err) {
      await this.release(row.sha256);
      throw err;
    }
    if (isVideo(contentType)) {
      const info = await readHeader(blobs, row.sha256, contentType);
      if (info.durationS !== null || info.width !== null) {
        Object.assign(row, { durationS: info.durationS, width: info.width, height: info.height });
        await store.files.update(row.id, { durationS: info.durationS, width: info.width, height: info.height });
      }
    }
    return row;
  }

  /** DELETE: the file is gone for its key and its URL answers 404 at once. */
  async delete(row: FileRow): Promise<void> {
    const at = this.opts.now();
    await this.opts.store.files.update(row.id, { deletedAt: at, ...(row.purgedAt === null ? { purgedAt: at } : {}) });
    await this.release(row.sha256);
  }

  /**
   * Expire what is due (bytes deleted, rows kept). Returns how many files expired. Rows are claimed
   * first (a lease), so replicas sharing the database expire each file once.
   */
  async expireDue(limit = 500, owner = 'local'): Promise<number> {
    const { store, now } = this.opts;
    const due = await store.files.claimExpired(now(), limit, owner, LEASE_MS);
    for (const row of due) {
      await store.files.update(row.id, { purgedAt: now() });
      await this.release(row.sha256);
    }
    if (due.length) this.opts.log.info({ files: due.length }, 'files expired');
    return due.length;
  }

  /** Remove blobs no file claims (left by a crash between a claim and its row, or a release and its unlink). */
  async sweepOrphans(minAgeMs = 0): Promise<number> {
    const live = await this.opts.store.files.liveHashes();
    let removed = 0;
    for (const sha of this.opts.blobs.list()) {
      if (!live.has(sha) && (this.opts.blobs.ageMs(sha) ?? 0) >= minAgeMs) {
        this.opts.blobs.remove(sha);
        removed++;
      }
    }
    return removed;
  }

  /** The file object (CONTRACT §8). */
  view(row: FileRow) {
    return {
      id: row.id,
      object: 'file' as const,
      purpose: row.purpose,
      bytes: row.bytes,
      content_type: row.contentType,
      sha256: row.sha256,
      created: Math.floor(row.createdAt / 1000),
      expires_at: Math.floor(row.expiresAt / 1000),
      status: row.purgedAt === null && row.expiresAt > this.opts.now() ? 'active' : 'expired',
      url: this.urlOf(row),
      duration_s: row.durationS,
      width: row.width,
      height: row.height,
      ...(row.taskId ? { task_id: row.taskId } : {}),
    };
  }

  /** Drop the blob when no file claims it any more (synchronous with the caller's row change). */
  private async release(sha256: string): Promise<void> {
    if ((await this.opts.store.files.liveRefs(sha256)) === 0) this.opts.blobs.remove(sha256);
  }
}
