import { describe, expect, it } from 'vitest';
import { createFile, MP4BoxBuffer } from 'mp4box';
import type { Movie } from 'mp4box';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';

/** Parses a whole in-memory file with mp4box and returns its getInfo(), or undefined if never ready. */
function parse(buf: Buffer): Movie | undefined {
  const file = createFile();
  let info: Movie | undefined;
  file.onReady = (i) => {
    info = i;
  };
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(ab, 0), true);
  file.flush();
  return info;
}

function topLevelTypes(buf: Buffer): string[] {
  const types: string[] = [];
  for (let pos = 0; pos + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(pos);
    types.push(buf.toString('latin1', pos + 4, pos + 8));
    if (size < 8) break;
    pos += size;
  }
  return types;
}

describe('syntheticMp4', () => {
  it('declares the requested duration in a millisecond timescale (mp4box getInfo)', () => {
    const info = parse(syntheticMp4({ durationS: 7.4 }));
    expect(info?.hasMoov).toBe(true);
    expect(info?.timescale).toBe(1000);
    expect(info?.duration).toBe(7400);
    expect(info?.brands[0]).toBe('isom');
    expect(info?.videoTracks).toHaveLength(1);
    expect(info?.videoTracks[0]?.codec).toMatch(/^avc1\./);
    expect(info?.videoTracks[0]?.duration).toBe(7400);
  });

  it('puts moov first by default and last with moovAtEnd', () => {
    expect(topLevelTypes(syntheticMp4({ durationS: 5 }))).toEqual(['ftyp', 'moov', 'mdat']);
    expect(topLevelTypes(syntheticMp4({ durationS: 5, moovAtEnd: true }))).toEqual(['ftyp', 'mdat', 'moov']);
  });

  it('builds a MOV (qt brand) with moov at the end behind padding', () => {
    const buf = syntheticMp4({ durationS: 12.25, brand: 'mov', moovAtEnd: true, padBytes: 1_000_000 });
    expect(buf.length).toBeGreaterThan(1_000_000);
    expect(buf.toString('latin1', 8, 12)).toBe('qt  ');
    const info = parse(buf);
    expect(info?.brands[0]).toBe('qt  ');
    expect((info?.duration ?? 0) / (info?.timescale ?? 1)).toBeCloseTo(12.25, 6);
  });

  it('points the chunk offset at the sample inside mdat in both layouts', () => {
    for (const moovAtEnd of [false, true]) {
      const buf = syntheticMp4({ durationS: 3, moovAtEnd, padBytes: 100 });
      const stco = buf.indexOf('stco', 0, 'latin1');
      const offset = buf.readUInt32BE(stco + 12);
      const mdat = buf.indexOf('mdat', 0, 'latin1') - 4;
      expect(offset).toBe(mdat + 8);
    }
  });

  it('is deterministic and rejects bad input', () => {
    expect(syntheticMp4({ durationS: 9.99 }).equals(syntheticMp4({ durationS: 9.99 }))).toBe(true);
    expect(() => syntheticMp4({ durationS: Number.NaN })).toThrow(RangeError);
    expect(() => syntheticMp4({ durationS: -1 })).toThrow(RangeError);
    expect(() => syntheticMp4({ durationS: 1, padBytes: 1.5 })).toThrow(RangeError);
  });
});
