// Container layouts the probe must find its way through; a plain Range-capable server suffices.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMediaProbe } from '../../src/media/probe.ts';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';

const files = new Map<string, Buffer>();
const requests = new Map<string, number>();
const sent = new Map<string, number>();
let server: Server;
let base: string;
const agent = new Agent({ keepAliveTimeout: 1000 });

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const body = files.get(path);
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!body || !m) return void res.writeHead(body ? 400 : 404).end();
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), body.length - 1);
    if (start >= body.length) return void res.writeHead(416).end();
    sent.set(path, (sent.get(path) ?? 0) + end - start + 1);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 });
    res.end(body.subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const probe = (): ReturnType<typeof createMediaProbe> => createMediaProbe({ dispatcher: agent });

/** Top-level boxes of a moov-first synthetic file. */
function split(file: Buffer): { ftyp: Buffer; moov: Buffer; mdat: Buffer } {
  const a = file.readUInt32BE(0);
  const b = a + file.readUInt32BE(a);
  return { ftyp: file.subarray(0, a), moov: file.subarray(a, b), mdat: file.subarray(b) };
}

/** A box of `type` and total size `size` with a zero payload. */
function box(type: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(size, 0);
  b.write(type, 4, 'latin1');
  return b;
}

/** `container` with a nested `free` box of `extra` bytes appended and its size patched. */
function grow(container: Buffer, extra: number): Buffer {
  const out = Buffer.concat([container, box('free', extra)]);
  out.writeUInt32BE(out.length, 0);
  return out;
}

/** An mdat of `payload` zero bytes, optionally with a 64-bit (largesize) header. */
function mdat(payload: number, large = false): Buffer {
  if (!large) return box('mdat', 8 + payload);
  const b = Buffer.alloc(16 + payload);
  b.writeUInt32BE(1, 0);
  b.write('mdat', 4, 'latin1');
  b.writeBigUInt64BE(BigInt(16 + payload), 8);
  return b;
}

describe('large moov boxes', () => {
  it('fetches the rest of a 300 KB moov behind an 8 MB mdat in one request once its size is known', async () => {
    const { ftyp, moov } = split(syntheticMp4({ durationS: 21.5 }));
    files.set('/bigend.mp4', Buffer.concat([ftyp, mdat(8 * 1024 * 1024), grow(moov, 300_000)]));
    expect(await probe().duration(`${base}/bigend.mp4`)).toEqual({ ok: true, durationS: 21.5 });
    expect(requests.get('/bigend.mp4')).toBe(3);
    expect(sent.get('/bigend.mp4')).toBeLessThan(300_000 + 2 * 65536 + 1000);
  });

  it('fetches the rest of a 200 KB moov at the start in one more request', async () => {
    const { ftyp, moov, mdat: data } = split(syntheticMp4({ durationS: 4.5, padBytes: 1_000_000 }));
    files.set('/bigstart.mp4', Buffer.concat([ftyp, grow(moov, 200_000), data]));
    expect(await probe().duration(`${base}/bigstart.mp4`)).toEqual({ ok: true, durationS: 4.5 });
    expect(requests.get('/bigstart.mp4')).toBe(2);
  });
});

describe('unusual layouts', () => {
  it('skips a large top-level free box ahead of the moov', async () => {
    const { ftyp, moov, mdat: data } = split(syntheticMp4({ durationS: 5 }));
    files.set('/free.mp4', Buffer.concat([ftyp, box('free', 500_000), moov, data]));
    expect(await probe().duration(`${base}/free.mp4`)).toEqual({ ok: true, durationS: 5 });
    expect(sent.get('/free.mp4')).toBeLessThan(140_000);
  });

  it('reads a QuickTime file without ftyp (wide + mdat + moov)', async () => {
    const { moov } = split(syntheticMp4({ durationS: 2.75, brand: 'mov' }));
    files.set('/old.mov', Buffer.concat([box('wide', 8), mdat(300_000), moov]));
    expect(await probe().duration(`${base}/old.mov`)).toEqual({ ok: true, durationS: 2.75 });
  });

  it('follows a 64-bit (largesize) mdat header', async () => {
    const { ftyp, moov } = split(syntheticMp4({ durationS: 6 }));
    files.set('/large.mp4', Buffer.concat([ftyp, mdat(2_000_000, true), moov]));
    expect(await probe().duration(`${base}/large.mp4`)).toEqual({ ok: true, durationS: 6 });
  });

  it('rejects a file without a video track and one whose header declares no duration', async () => {
    const { ftyp, moov, mdat: data } = split(syntheticMp4({ durationS: 3 }));
    const audioOnly = Buffer.from(moov);
    // mp4box classifies tracks by sample entry class, not by the hdlr type.
    audioOnly.write('mp4a', audioOnly.indexOf('avc1', 0, 'latin1'), 'latin1');
    const zero = split(syntheticMp4({ durationS: 0 })).moov;
    files.set('/audio.mp4', Buffer.concat([ftyp, audioOnly, data]));
    files.set('/zero.mp4', Buffer.concat([ftyp, zero, data]));
    expect(await probe().duration(`${base}/audio.mp4`)).toEqual({ ok: false, reason: 'container has no video track' });
    expect(await probe().duration(`${base}/zero.mp4`)).toEqual({ ok: false, reason: 'container header declares no duration' });
  });

  it('rejects a moov that runs past the end of the file', async () => {
    const { ftyp, moov } = split(syntheticMp4({ durationS: 6 }));
    files.set('/short.mp4', Buffer.concat([ftyp, mdat(100_000), moov.subarray(0, moov.length - 50)]));
    const r = await probe().duration(`${base}/short.mp4`);
    expect(r.ok).toBe(false);
  });
});
