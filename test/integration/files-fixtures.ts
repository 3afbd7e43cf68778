/** Small real files of every accepted type (and some refused ones) for the files tests. */
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';

/** A 1×1 PNG. */
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
/** A JFIF header (SOI + APP0) followed by padding: enough for a signature read. */
export const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]), Buffer.alloc(200)]);
/** RIFF/WEBP with a VP8 chunk header. */
export const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WEBPVP8 '), Buffer.alloc(40)]);
/** An EBML header whose DocType is "webm". */
export const WEBM = Buffer.concat([
  Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04, 0x42, 0xf3, 0x81, 0x08, 0x42, 0x82, 0x84]),
  Buffer.from('webm'),
  Buffer.from([0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02]),
  Buffer.alloc(64),
]);
export const MP4 = (durationS = 5, size?: { width: number; height: number }) => syntheticMp4({ durationS, ...size });
export const MOV = syntheticMp4({ durationS: 3, brand: 'mov' });
/** A text file (whatever it is named). */
export const TEXT = Buffer.from('this is not a video, whatever its name says\n'.repeat(20));
/** A GIF: a real image type the store does not take. */
export const GIF = Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(32)]);
