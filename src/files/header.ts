/**
 * A stored video's duration and size from its container header, read from the blob (no HTTP): the
 * same reader the remote probe uses, fed from disk.
 */
import { ContainerHeaderReader } from '../media/container.ts';
import type { BlobStore } from './blob-store.ts';

/** What the header says; null fields could not be read. */
export interface HeaderInfo {
  durationS: number | null;
  width: number | null;
  height: number | null;
  /** Why nothing could be read (for logs and error messages). */
  reason?: string;
}

const CHUNK = 256 * 1024;
// A moov larger than this is not a header we are willing to hold in memory.
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

/** Read the MP4/MOV header of a stored blob. WebM and images answer all-null. */
export async function readHeader(blobs: BlobStore, sha256: string, contentType: string): Promise<HeaderInfo> {
  if (contentType !== 'video/mp4' && contentType !== 'video/quicktime') return { durationS: null, width: null, height: null };
  const size = blobs.size(sha256);
  if (size === null) return { durationS: null, width: null, height: null, reason: 'file is gone' };
  const reader = new ContainerHeaderReader();
  let pos = 0;
  let want = CHUNK;
  let used = 0;
  for (;;) {
    const bytes = await blobs.read(sha256, pos, want);
    used += bytes.byteLength;
    if (bytes.byteLength === 0) return { durationS: null, width: null, height: null, reason: 'no moov box found (file ends first)' };
    const step = reader.push(bytes, pos);
    if (step.kind === 'done') {
      return { durationS: step.durationS, width: step.width ?? null, height: step.height ?? null };
    }
    if (step.kind === 'error') return { durationS: null, width: null, height: null, reason: step.reason };
    if (step.next < pos + bytes.byteLength || step.next >= size || used >= MAX_HEADER_BYTES) {
      return { durationS: null, width: null, height: null, reason: 'unreadable container header' };
    }
    pos = step.next;
    want = Math.min(MAX_HEADER_BYTES - used, Math.max(CHUNK, step.until !== undefined ? step.until - pos : 0));
  }
}
