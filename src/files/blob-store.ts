/**
 * Where file bytes live: content-addressed blobs (one per sha256), written through a temp object
 * and made visible by an atomic rename, so a crash mid-write never leaves a half blob visible.
 * The interface is what an S3-compatible store would implement too (docs/files.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, openSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The stream carried more than the caller allowed; nothing was kept. */
export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`larger than ${limit} bytes`);
    this.name = 'TooLargeError';
  }
}

/** Bytes written to a temp object, hashed, not yet visible. Exactly one of commit/discard follows. */
export interface PendingBlob {
  sha256: string;
  bytes: number;
  /** The first bytes (up to SNIFF_BYTES): enough to tell the file type. */
  head: Buffer;
  /** Make the blob visible under its hash (kept once: an existing copy wins). Synchronous on purpose: see FileStore. */
  commit(): void;
  /** Drop the temp object. */
  discard(): void;
}

/** Options for one write. */
export interface WriteOptions {
  /** Most bytes accepted; one more rejects with TooLargeError and removes the temp object. */
  maxBytes: number;
  /** Called once with the head (SNIFF_BYTES, or all of a shorter stream) before the rest is read; throwing aborts the write. */
  onHead?: (head: Buffer) => void | Promise<void>;
}

/** A blob store: put a stream, open a byte range, delete. */
export interface BlobStore {
  write(source: Readable | AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<PendingBlob>;
  /** Bytes [start, end] (inclusive) of a blob, or all of it. Throws at once when the blob is gone. */
  open(sha256: string, range?: { start: number; end: number }): Readable;
  /** Size of a stored blob, or null when it is not there. */
  size(sha256: string): number | null;
  /** Remove a blob (no-op when absent). Synchronous on purpose: see FileStore. */
  remove(sha256: string): void;
  /** Read `length` bytes at `position` (header parsing); fewer at the end of the blob. */
  read(sha256: string, position: number, length: number): Promise<Buffer>;
  /** Every stored hash, with how long ago each was written, ms (start-up sweep). */
  list(): string[];
  /** How long ago a blob was written, ms, or null when it is not there. */
  ageMs(sha256: string): number | null;
}

/** Bytes file-type needs to recognize every supported format. */
export const SNIFF_BYTES = 4100;

const HASH = /^[0-9a-f]{64}$/;

/**
 * Blobs under `<dir>/blobs/ab/abcdef…`, temp objects under `<dir>/tmp`, removed at start: all of
 * them, or on a folder other replicas share only those older than `keepTempMs` (theirs may be
 * uploads in progress).
 */
export function createLocalBlobStore(dir: string, opts: { keepTempMs?: number } = {}): BlobStore {
  const blobs = join(dir, 'blobs');
  const tmp = join(dir, 'tmp');
  mkdirSync(blobs, { recursive: true });
  // Temp objects of a process that died mid-write: never visible, never needed.
  if (!opts.keepTempMs) rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const name of opts.keepTempMs ? readdirSync(tmp) : []) {
    const path = join(tmp, name);
    // Another replica may finish (rename) its upload between the listing and this look: then it is not ours to sweep.
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > opts.keepTempMs!) rmSync(path, { force: true });
  }
  const pathOf = (sha256: string) => {
    if (!HASH.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(blobs, sha256.slice(0, 2), sha256);
  };

  return {
    async write(source, opts) {
      const tempPath = join(tmp, `${randomBytes(12).toString('hex')}.part`);
      const hash = createHash('sha256');
      let bytes = 0;
      let headParts: Buffer[] = [];
      let head: Buffer | null = null;
      const takeHead = async (self: Transform) => {
        head = Buffer.concat(headParts).subarray(0, SNIFF_BYTES);
        const rest = Buffer.concat(headParts);
        headParts = [];
        await opts.onHead?.(head);
        if (rest.byteLength) self.push(rest);
      };
      const meter = new Transform({
        async transform(chunk: Buffer, _enc, done) {
          try {
            bytes += chunk.byteLength;
            if (bytes > opts.maxBytes) throw new TooLargeError(opts.maxBytes);
            hash.update(chunk);
            if (head) return done(null, chunk);
            headParts.push(chunk);
            if (bytes >= SNIFF_BYTES) await takeHead(this);
            done();
          } catch (err) {
            done(err as Error);
          }
        },
        async flush(done) {
          try {
            if (!head) await takeHead(this);
            done();
          } catch (err) {
            done(err as Error);
          }
        },
      });
      const out = createWriteStream(tempPath, { flags: 'wx' });
      try {
        await pipeline(source, meter, out);
        // Durable before it becomes visible: a rename of unflushed data could expose a short file after an OS crash.
        const fh = await open(tempPath, 'r');
        await fh.sync().finally(() => fh.close());
      } catch (err) {
        // The write stream opens its file asynchronously: wait until it is closed, or the file
        // could appear after the removal.
        if (!out.closed) await new Promise<void>((done) => out.once('close', () => done()));
        rmSync(tempPath, { force: true });
        throw err;
      }
      const sha256 = hash.digest('hex');
      let settled = false;
      return {
        sha256,
        bytes,
        head: head ?? Buffer.alloc(0),
        commit() {
          if (settled) return;
          settled = true;
          const target = pathOf(sha256);
          if (existsSync(target)) return rmSync(tempPath, { force: true });
          mkdirSync(join(blobs, sha256.slice(0, 2)), { recursive: true });
          renameSync(tempPath, target);
        },
        discard() {
          if (settled) return;
          settled = true;
          rmSync(tempPath, { force: true });
        },
      };
    },
    open(sha256, range) {
      // Opened now, not when first read: a blob removed after this call still streams in full.
      const fd = openSync(pathOf(sha256), 'r');
      return createReadStream('', { fd, ...(range ? { start: range.start, end: range.end } : {}) });
    },
    size(sha256) {
      try {
        return statSync(pathOf(sha256)).size;
      } catch {
        return null;
      }
    },
    remove(sha256) {
      try {
        unlinkSync(pathOf(sha256));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },
    async read(sha256, position, length) {
      const fh = await open(pathOf(sha256), 'r');
      try {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, position);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
    ageMs(sha256) {
      const st = statSync(pathOf(sha256), { throwIfNoEntry: false });
      return st ? Date.now() - st.mtimeMs : null;
    },
    list() {
      const out: string[] = [];
      for (const sub of readdirSync(blobs)) {
        for (const name of readdirSync(join(blobs, sub))) if (HASH.test(name)) out.push(name);
      }
      return out;
    },
  };
}
