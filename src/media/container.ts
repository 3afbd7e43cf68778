/**
 * Finds the `moov` of an ISO-BMFF / QuickTime file fed as byte ranges at arbitrary offsets, and has
 * mp4box parse it. Only top-level box boundaries are read by hand: mp4box's own progressive parser
 * cannot skip a large non-`mdat` box (a big `free`/`uuid` ahead of the moov stalls it), and its
 * getInfo() dereferences `ftyp`, which old QuickTime files lack.
 */
import { createFile, MP4BoxBuffer } from 'mp4box';
import type { Movie } from 'mp4box';

/** What the reader wants next: done, failed, or the bytes from `next` (the box ends at `until`). */
export type ParseStep =
  | { kind: 'done'; durationS: number; width?: number; height?: number }
  | { kind: 'error'; reason: string }
  | { kind: 'more'; next: number; until?: number };

// Types a real MP4/MOV can start with. Checking the first box keeps HTML error pages and other junk
// from being read as a "box" whose bogus size would send us range-reading random offsets.
const LEADING_BOX_TYPES = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'styp', 'sidx', 'junk', 'PICT']);

// mvhd/mdhd use all-ones to mean "duration unknown".
const UNKNOWN_32 = 0xffffffff;

// Stand-in for a missing ftyp (QuickTime files may start straight with wide/mdat/moov).
const QT_FTYP = new Uint8Array([0, 0, 0, 20, 0x66, 0x74, 0x79, 0x70, 0x71, 0x74, 0x20, 0x20, 0, 0, 0, 0, 0x71, 0x74, 0x20, 0x20]);

interface Chunk {
  start: number;
  bytes: Uint8Array;
}

/** Progressive header reader: push byte ranges, learn where to read next, until the duration. */
export class ContainerHeaderReader {
  private readonly chunks: Chunk[] = [];
  /** Offset of the first top-level box not yet walked past. */
  private cursor = 0;
  private ftyp: Uint8Array | undefined;

  /** Feeds `bytes` found at file offset `start`; the first push must start at 0. */
  push(bytes: Uint8Array, start: number): ParseStep {
    if (this.chunks.length === 0 && start !== 0) return { kind: 'error', reason: 'first chunk must start at offset 0' };
    if (bytes.byteLength > 0) this.chunks.push({ start, bytes });
    for (let boxes = 0; boxes < 100_000; boxes++) {
      const at = this.cursor;
      const head = this.read(at, 8);
      if (!head) return { kind: 'more', next: this.firstMissing(at) };
      const view = new DataView(head.buffer, head.byteOffset, 8);
      const type = String.fromCharCode(...head.subarray(4, 8));
      if (at === 0 && !LEADING_BOX_TYPES.has(type)) return { kind: 'error', reason: 'not an MP4/MOV file (no ISO-BMFF box at offset 0)' };
      if (!/^[\x20-\x7e]{4}$/.test(type)) return { kind: 'error', reason: `corrupt container (bad box type at offset ${at})` };
      let size = view.getUint32(0);
      if (size === 1) {
        const large = this.read(at + 8, 8);
        if (!large) return { kind: 'more', next: this.firstMissing(at) };
        size = Number(new DataView(large.buffer, large.byteOffset, 8).getBigUint64(0));
      } else if (size === 0) {
        // "Extends to end of file": nothing follows it, so a moov must be this box or already passed.
        return type === 'moov' ? { kind: 'error', reason: 'moov box of unbounded size' } : { kind: 'error', reason: 'no moov box found' };
      }
      if (size < 8 || !Number.isSafeInteger(at + size)) return { kind: 'error', reason: `corrupt container (bad box size at offset ${at})` };
      if (type === 'moov') {
        const moov = this.read(at, size);
        if (!moov) return { kind: 'more', next: this.firstMissing(at), until: at + size };
        return parseMoov(this.ftyp ?? QT_FTYP, moov);
      }
      if (type === 'ftyp') this.ftyp = this.read(at, size);
      this.cursor = at + size;
    }
    return { kind: 'error', reason: 'corrupt container (too many boxes)' };
  }

  /** Bytes [pos, pos+len) if the pushed chunks cover them contiguously. */
  private read(pos: number, len: number): Uint8Array | undefined {
    // Check coverage before allocating: a corrupt size field could ask for terabytes.
    if (this.firstMissing(pos) < pos + len) return undefined;
    const out = new Uint8Array(len);
    let filled = 0;
    while (filled < len) {
      const p = pos + filled;
      const c = this.chunks.find((ch) => p >= ch.start && p < ch.start + ch.bytes.byteLength);
      if (!c) return undefined;
      const piece = c.bytes.subarray(p - c.start, Math.min(c.bytes.byteLength, p - c.start + len - filled));
      out.set(piece, filled);
      filled += piece.byteLength;
    }
    return out;
  }

  /** First offset at or after `pos` that no pushed chunk covers. */
  private firstMissing(pos: number): number {
    let p = pos;
    for (;;) {
      const c = this.chunks.find((ch) => p >= ch.start && p < ch.start + ch.bytes.byteLength);
      if (!c) return p;
      p = c.start + c.bytes.byteLength;
    }
  }
}

/** Hands mp4box a two-box file (ftyp + moov): all it needs for the movie info. */
function parseMoov(ftyp: Uint8Array, moov: Uint8Array): ParseStep {
  const file = createFile();
  let info: Movie | undefined;
  let failure: string | undefined;
  file.onReady = (i) => {
    info = i;
  };
  file.onError = (module, message) => {
    failure = `${module}: ${message}`;
  };
  const ab = new MP4BoxBuffer(ftyp.byteLength + moov.byteLength);
  const view = new Uint8Array(ab);
  view.set(ftyp, 0);
  view.set(moov, ftyp.byteLength);
  ab.fileStart = 0;
  try {
    file.appendBuffer(ab, true);
  } catch (err) {
    // mp4box throws on some corrupt boxes instead of reporting them.
    return { kind: 'error', reason: `unreadable moov box: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (failure) return { kind: 'error', reason: `unreadable moov box: ${failure}` };
  if (!info) return { kind: 'error', reason: 'unreadable moov box' };
  const step = durationOf(info);
  return step.kind === 'done' ? { ...step, ...dimensionsOf(info) } : step;
}

/** The first video track's size: the sample description's coded size, else the tkhd's display size. */
function dimensionsOf(info: Movie): { width?: number; height?: number } {
  const t = info.videoTracks[0];
  const width = t?.video?.width || Math.round(t?.track_width ?? 0);
  const height = t?.video?.height || Math.round(t?.track_height ?? 0);
  return width > 0 && height > 0 ? { width, height } : {};
}

function durationOf(info: Movie): ParseStep {
  if (info.videoTracks.length === 0) return { kind: 'error', reason: 'container has no video track' };
  if (info.timescale > 0 && info.duration > 0 && info.duration !== UNKNOWN_32) {
    return { kind: 'done', durationS: info.duration / info.timescale };
  }
  // Fragmented files usually leave mvhd at 0 and put the total in mehd.
  const frag = info.fragment_duration;
  if (frag && frag.den > 0 && frag.num > 0) return { kind: 'done', durationS: frag.num / frag.den };
  let best = 0;
  for (const t of info.videoTracks) {
    if (t.timescale > 0 && t.duration > 0 && t.duration !== UNKNOWN_32) best = Math.max(best, t.duration / t.timescale);
  }
  if (best > 0) return { kind: 'done', durationS: best };
  return { kind: 'error', reason: 'container header declares no duration' };
}
