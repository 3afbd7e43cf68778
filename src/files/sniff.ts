/**
 * The file type, read from the bytes (never the name or the declared type). `file-type` knows the
 * signatures, including the ISO-BMFF brands that tell MP4 from QuickTime and EBML's WebM doctype.
 */
import { fileTypeFromBuffer } from 'file-type';

/** The content types the store accepts (CONTRACT §8). */
export const ACCEPTED_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'video/mp4', 'video/quicktime', 'video/webm'] as const;
export type AcceptedType = (typeof ACCEPTED_TYPES)[number];

// ISO-BMFF files file-type names by a more specific brand but that play as MP4 everywhere.
const AS_MP4 = new Set(['video/mp4', 'video/x-m4v']);

/** The accepted content type of a file starting with `head`, or null for anything else. */
export async function sniffType(head: Uint8Array): Promise<AcceptedType | null> {
  const found = await fileTypeFromBuffer(head);
  if (!found) return null;
  if (AS_MP4.has(found.mime)) return 'video/mp4';
  return (ACCEPTED_TYPES as readonly string[]).includes(found.mime) ? (found.mime as AcceptedType) : null;
}

/** Whether a content type is a video (its header carries a duration). */
export function isVideo(type: string): boolean {
  return type.startsWith('video/');
}
