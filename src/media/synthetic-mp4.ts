/**
 * Builds tiny but structurally valid ISO-BMFF (MP4 / QuickTime MOV) files whose headers declare a
 * chosen duration. Emulators serve these as "generated videos" and tests use them as reference
 * videos, so the real header parser (mp4box) must accept them; the single frame is a real H.264
 * picture, so browsers play them too.
 */
import { greyFrame } from './h264-frame.ts';

/** Options for {@link syntheticMp4}. */
export interface SyntheticMp4Options {
  /** Duration the container header declares, in seconds; kept to millisecond precision. */
  durationS: number;
  /** Put `moov` after `mdat` (like a non-"faststart" encoder output) instead of before it. */
  moovAtEnd?: boolean;
  /** `mp4` → ftyp major brand `isom`; `mov` → `qt  `. Default `mp4`. */
  brand?: 'mp4' | 'mov';
  /** Extra zero bytes appended inside `mdat`, to make files large (e.g. to test range reads). */
  padBytes?: number;
  /** Picture size in pixels (multiples of 16). Default 1280×720: a valid element video too. */
  width?: number;
  height?: number;
}

const DEFAULT_SIZE = { width: 1280, height: 720 };
// ms timescale so fractional durations such as 7.4 s are exact in the header.
const TIMESCALE = 1000;

// A real grey IDR picture (see h264-frame.ts), so browsers can play the file, not just parse it:
// the sample is the length-prefixed IDR slice, SPS/PPS go in avcC.
interface Picture {
  width: number;
  height: number;
  sample: Buffer;
  sps: Buffer;
  pps: Buffer;
}
const pictures = new Map<string, Picture>();
/** The encoded grey picture of one size, built once per size. */
function pictureOf(width: number, height: number): Picture {
  const key = `${width}x${height}`;
  let p = pictures.get(key);
  if (!p) {
    const frame = greyFrame(width, height);
    p = { width, height, sample: Buffer.concat([u32(frame.idr.length), frame.idr]), sps: frame.sps, pps: frame.pps };
    pictures.set(key, p);
  }
  return p;
}

// Identity transformation matrix (16.16 / 2.30 fixed point) shared by mvhd and tkhd.
const MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}
function fourcc(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}
function matrix(): Buffer {
  return Buffer.concat(MATRIX.map(u32));
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), fourcc(type), body]);
}
function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  return box(type, u32(((version & 0xff) << 24) | (flags & 0xffffff)), ...parts);
}

function ftyp(brand: 'mp4' | 'mov'): Buffer {
  return brand === 'mov'
    ? box('ftyp', fourcc('qt  '), u32(0x00000200), fourcc('qt  '))
    : box('ftyp', fourcc('isom'), u32(0x00000200), fourcc('isom'), fourcc('iso2'), fourcc('avc1'), fourcc('mp41'));
}

function mvhd(durationMs: number): Buffer {
  return fullBox(
    'mvhd', 0, 0,
    u32(0), u32(0), u32(TIMESCALE), u32(durationMs),
    u32(0x00010000), u16(0x0100), zeros(10), matrix(), zeros(24),
    u32(2), // next_track_ID
  );
}

function tkhd(durationMs: number, pic: Picture): Buffer {
  return fullBox(
    'tkhd', 0, 0x000003, // enabled | in_movie
    u32(0), u32(0), u32(1), zeros(4), u32(durationMs),
    zeros(8), u16(0), u16(0), u16(0), zeros(2), matrix(),
    u32(pic.width * 65536), u32(pic.height * 65536),
  );
}

function mdhd(durationMs: number): Buffer {
  // 0x55c4 packs ISO-639-2 "und" as three 5-bit letters.
  return fullBox('mdhd', 0, 0, u32(0), u32(0), u32(TIMESCALE), u32(durationMs), u16(0x55c4), u16(0));
}

function hdlr(brand: 'mp4' | 'mov'): Buffer {
  // QuickTime puts the component type ('mhlr') where ISO has pre_defined = 0.
  const pre = brand === 'mov' ? fourcc('mhlr') : u32(0);
  return fullBox('hdlr', 0, 0, pre, fourcc('vide'), zeros(12), Buffer.from('VideoHandler\0', 'latin1'));
}

function avc1(pic: Picture): Buffer {
  const { sps: SPS, pps: PPS } = pic;
  const avcC = box(
    'avcC',
    u8(1), u8(SPS[1] ?? 0x42), u8(SPS[2] ?? 0xc0), u8(SPS[3] ?? 0x1e),
    u8(0xff), // reserved bits + lengthSizeMinusOne = 3
    u8(0xe1), u16(SPS.length), SPS,
    u8(1), u16(PPS.length), PPS,
  );
  const compressorName = zeros(32);
  return box(
    'avc1',
    zeros(6), u16(1), // reserved, data_reference_index
    u16(0), u16(0), zeros(12),
    u16(pic.width), u16(pic.height),
    u32(0x00480000), u32(0x00480000), // 72 dpi
    u32(0), u16(1), compressorName, u16(0x0018), u16(0xffff),
    avcC,
  );
}

function stbl(durationMs: number, chunkOffset: number, pic: Picture): Buffer {
  return box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), avc1(pic)),
    // One sample lasting the whole track keeps the file tiny whatever the duration.
    fullBox('stts', 0, 0, u32(1), u32(1), u32(durationMs)),
    fullBox('stss', 0, 0, u32(1), u32(1)),
    fullBox('stsc', 0, 0, u32(1), u32(1), u32(1), u32(1)),
    fullBox('stsz', 0, 0, u32(0), u32(1), u32(pic.sample.length)),
    fullBox('stco', 0, 0, u32(1), u32(chunkOffset)),
  );
}

function moov(durationMs: number, brand: 'mp4' | 'mov', chunkOffset: number, pic: Picture): Buffer {
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 0x000001)));
  const minf = box('minf', fullBox('vmhd', 0, 0x000001, u16(0), zeros(6)), dinf, stbl(durationMs, chunkOffset, pic));
  const trak = box('trak', tkhd(durationMs, pic), box('mdia', mdhd(durationMs), hdlr(brand), minf));
  return box('moov', mvhd(durationMs), trak);
}

/**
 * Returns a minimal valid MP4/MOV whose `mvhd`, `tkhd` and `mdhd` all declare `durationS`
 * (millisecond timescale). One video track (avc1, 1280×720 unless `width`/`height` say otherwise) with a single sample in `mdat`.
 * Deterministic: the same options always give the same bytes.
 */
export function syntheticMp4(opts: SyntheticMp4Options): Buffer {
  const { durationS, moovAtEnd = false, brand = 'mp4', padBytes = 0 } = opts;
  const pic = pictureOf(opts.width ?? DEFAULT_SIZE.width, opts.height ?? DEFAULT_SIZE.height);
  const sample = pic.sample;
  if (!Number.isFinite(durationS) || durationS < 0) throw new RangeError(`durationS must be a finite number ≥ 0, got ${durationS}`);
  const durationMs = Math.round(durationS * 1000);
  if (durationMs > 0xffffffff) throw new RangeError('durationS too large for a version-0 header');
  if (!Number.isInteger(padBytes) || padBytes < 0) throw new RangeError(`padBytes must be an integer ≥ 0, got ${padBytes}`);
  const mdatSize = 8 + sample.length + padBytes;
  // Beyond 32-bit sizes would need largesize boxes and co64; no test needs files that big.
  if (mdatSize > 0xffffffff) throw new RangeError('padBytes too large');

  const head = ftyp(brand);
  const mdatHeader = Buffer.concat([u32(mdatSize), fourcc('mdat')]);
  const padding = zeros(padBytes);

  if (moovAtEnd) {
    const chunkOffset = head.length + 8;
    return Buffer.concat([head, mdatHeader, sample, padding, moov(durationMs, brand, chunkOffset, pic)]);
  }
  // moov's size does not depend on the offset value, so build once to measure, then for real.
  const moovLen = moov(durationMs, brand, 0, pic).length;
  const chunkOffset = head.length + moovLen + 8;
  return Buffer.concat([head, moov(durationMs, brand, chunkOffset, pic), mdatHeader, sample, padding]);
}
