import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMediaProbe } from '../../src/media/probe.ts';
import { syntheticMp4 } from '../../src/media/synthetic-mp4.ts';

interface Served {
  body: Buffer;
  etag?: string;
  lastModified?: string;
  /** Ignore Range and stream the whole body with 200. */
  noRange?: boolean;
  /** Accept the request and never answer. */
  hang?: boolean;
  redirectTo?: string;
}

interface Stats {
  requests: number;
  bytesSent: number;
  headers: IncomingMessage['headers'][];
}

const files = new Map<string, Served>();
const stats = new Map<string, Stats>();
let server: Server;
let base: string;
const agent = new Agent({ keepAliveTimeout: 1000 });

function stat(path: string): Stats {
  let s = stats.get(path);
  if (!s) stats.set(path, (s = { requests: 0, bytesSent: 0, headers: [] }));
  return s;
}

/**
 * Writes in 64 KiB slices with backpressure. `paced` adds a pause per slice, so that loopback socket
 * buffers (megabytes) do not hide when the client hung up.
 */
async function send(res: ServerResponse, body: Buffer, s: Stats, paced = false): Promise<void> {
  for (let off = 0; off < body.length && !res.destroyed; off += 65536) {
    const slice = body.subarray(off, Math.min(off + 65536, body.length));
    s.bytesSent += slice.length;
    if (paced) await new Promise((r) => setTimeout(r, 2));
    if (!res.write(slice)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const s = stat(path);
  s.requests++;
  s.headers.push(req.headers);
  const f = files.get(path);
  if (!f) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  if (f.hang) return;
  if (f.redirectTo) {
    res.writeHead(302, { location: f.redirectTo }).end();
    return;
  }
  const validators: Record<string, string> = {};
  if (f.etag) validators.etag = f.etag;
  if (f.lastModified) validators['last-modified'] = f.lastModified;
  if (f.etag && req.headers['if-none-match'] === f.etag) {
    res.writeHead(304, validators).end();
    return;
  }
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (f.noRange || !m) {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': f.body.length, ...validators });
    void send(res, f.body, s, f.noRange);
    return;
  }
  const start = Number(m[1]);
  const end = Math.min(m[2] ? Number(m[2]) : f.body.length - 1, f.body.length - 1);
  if (start >= f.body.length) {
    res.writeHead(416, { 'content-range': `bytes */${f.body.length}` }).end();
    return;
  }
  res.writeHead(206, {
    'content-type': 'video/mp4',
    'content-length': end - start + 1,
    'content-range': `bytes ${start}-${end}/${f.body.length}`,
    ...validators,
  });
  void send(res, f.body.subarray(start, end + 1), s);
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  files.clear();
  stats.clear();
});

const EIGHT_MB = 8 * 1024 * 1024;

describe('createMediaProbe().duration', () => {
  it('reads the duration when moov is at the start, in one small range request', async () => {
    files.set('/a.mp4', { body: syntheticMp4({ durationS: 7.4, padBytes: EIGHT_MB }) });
    const probe = createMediaProbe({ dispatcher: agent });
    expect(await probe.duration(`${base}/a.mp4`)).toEqual({ ok: true, durationS: 7.4 });
    expect(stat('/a.mp4').requests).toBe(1);
    expect(stat('/a.mp4').bytesSent).toBeLessThanOrEqual(65536);
  });

  it('jumps over an 8 MB mdat to a moov at the end without downloading the file', async () => {
    const body = syntheticMp4({ durationS: 12.5, moovAtEnd: true, padBytes: EIGHT_MB });
    files.set('/end.mp4', { body });
    const probe = createMediaProbe({ dispatcher: agent });
    expect(await probe.duration(`${base}/end.mp4`)).toEqual({ ok: true, durationS: 12.5 });
    const s = stat('/end.mp4');
    expect(s.requests).toBe(2);
    expect(s.bytesSent).toBeLessThan(body.length / 50);
    console.info(`moov-at-end: file ${body.length} B, transferred ${s.bytesSent} B in ${s.requests} requests`);
  });

  it('reads a QuickTime MOV with moov at the end', async () => {
    files.set('/clip.mov', { body: syntheticMp4({ durationS: 3.25, brand: 'mov', moovAtEnd: true, padBytes: 500_000 }) });
    const probe = createMediaProbe({ dispatcher: agent });
    expect(await probe.duration(`${base}/clip.mov`)).toEqual({ ok: true, durationS: 3.25 });
  });

  it('copes with a server that ignores Range: reads the head only and hangs up', async () => {
    const body = syntheticMp4({ durationS: 9, padBytes: 4 * EIGHT_MB });
    files.set('/norange.mp4', { body, noRange: true });
    const probe = createMediaProbe({ dispatcher: agent });
    expect(await probe.duration(`${base}/norange.mp4`)).toEqual({ ok: true, durationS: 9 });
    await new Promise((r) => setTimeout(r, 50));
    expect(stat('/norange.mp4').bytesSent).toBeLessThan(512 * 1024);
    console.info(`no-Range server: file ${body.length} B, server wrote ${stat('/norange.mp4').bytesSent} B before the hang-up`);
  });

  it('gives up when moov lies beyond the byte cap on a server that ignores Range', async () => {
    const body = syntheticMp4({ durationS: 9, moovAtEnd: true, padBytes: 4 * EIGHT_MB });
    files.set('/norange-end.mp4', { body, noRange: true });
    const probe = createMediaProbe({ dispatcher: agent, maxBytes: 1024 * 1024 });
    const r = await probe.duration(`${base}/norange-end.mp4`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/Range/);
    await new Promise((r) => setTimeout(r, 50));
    expect(stat('/norange-end.mp4').bytesSent).toBeLessThan(2 * 1024 * 1024);
  });

  it('tells a moov-less file apart from the byte cap on a server that ignores Range', async () => {
    // Just the 32-byte ftyp: a valid start, but no moov anywhere.
    files.set('/nomoov.mp4', { body: syntheticMp4({ durationS: 1 }).subarray(0, 32), noRange: true });
    const r = await createMediaProbe({ dispatcher: agent }).duration(`${base}/nomoov.mp4`);
    expect(r).toEqual({ ok: false, reason: 'no moov box found (file ends first)' });
  });

  it('fails cleanly on 404, garbage, a text page and an empty file', async () => {
    files.set('/garbage.mp4', { body: Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)) });
    files.set('/page.mp4', { body: Buffer.from('<!DOCTYPE html><html><body>nope</body></html>') });
    files.set('/empty.mp4', { body: Buffer.alloc(0) });
    const probe = createMediaProbe({ dispatcher: agent });
    for (const path of ['/missing.mp4', '/garbage.mp4', '/page.mp4', '/empty.mp4']) {
      const r = await probe.duration(`${base}${path}`);
      expect(r.ok, path).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
    const missing = await probe.duration(`${base}/missing.mp4`);
    expect(missing).toEqual({ ok: false, reason: 'HTTP 404 fetching media' });
    expect(await probe.duration('not a url')).toEqual({ ok: false, reason: 'invalid URL' });
  });

  it('fails when the moov is cut off (truncated upload)', async () => {
    const whole = syntheticMp4({ durationS: 4, moovAtEnd: true, padBytes: 200_000 });
    files.set('/cut.mp4', { body: whole.subarray(0, whole.length - 100) });
    const probe = createMediaProbe({ dispatcher: agent });
    expect((await probe.duration(`${base}/cut.mp4`)).ok).toBe(false);
  });

  it('respects maxBytes when moov is at the end', async () => {
    files.set('/far.mp4', { body: syntheticMp4({ durationS: 4, moovAtEnd: true, padBytes: EIGHT_MB }) });
    const probe = createMediaProbe({ dispatcher: agent, maxBytes: 65536 });
    const r = await probe.duration(`${base}/far.mp4`);
    expect(r).toEqual({ ok: false, reason: 'moov not found within 65536 bytes' });
  });

  it('returns ok:false within the timeout when the server never answers', async () => {
    files.set('/hang.mp4', { body: Buffer.alloc(0), hang: true });
    const probe = createMediaProbe({ dispatcher: agent, timeoutMs: 300 });
    const t0 = performance.now();
    const r = await probe.duration(`${base}/hang.mp4`);
    const elapsed = performance.now() - t0;
    expect(r).toEqual({ ok: false, reason: 'timed out after 300 ms' });
    expect(elapsed).toBeLessThan(1000);
  });

  it('runs the guard before every hop and reports its refusal', async () => {
    files.set('/real.mp4', { body: syntheticMp4({ durationS: 5 }) });
    files.set('/hop.mp4', { body: Buffer.alloc(0), redirectTo: '/real.mp4' });
    const seen: string[] = [];
    const probe = createMediaProbe({ dispatcher: agent, guard: async (u) => void seen.push(u.pathname) });
    expect(await probe.duration(`${base}/hop.mp4`)).toEqual({ ok: true, durationS: 5 });
    expect(seen).toEqual(['/hop.mp4', '/real.mp4']);

    const refusing = createMediaProbe({
      dispatcher: agent,
      guard: async () => {
        throw new Error('media URL resolves to a private address');
      },
    });
    expect(await refusing.duration(`${base}/real.mp4`)).toEqual({ ok: false, reason: 'media URL resolves to a private address' });
    expect(stat('/real.mp4').requests).toBe(1);
  });

  it('serves repeats from the cache, then revalidates with If-None-Match after the TTL', async () => {
    files.set('/c.mp4', { body: syntheticMp4({ durationS: 6.5, moovAtEnd: true, padBytes: 100_000 }), etag: '"v1"' });
    let clock = 1_000_000;
    const probe = createMediaProbe({ dispatcher: agent, cacheTtlMs: 60_000, now: () => clock });
    const url = `${base}/c.mp4`;
    expect(await probe.duration(url)).toEqual({ ok: true, durationS: 6.5 });
    const first = stat('/c.mp4').requests;
    expect(await probe.duration(url)).toEqual({ ok: true, durationS: 6.5 });
    clock += 59_000;
    expect(await probe.duration(url)).toEqual({ ok: true, durationS: 6.5 });
    expect(stat('/c.mp4').requests).toBe(first);

    clock += 2_000; // past the TTL
    expect(await probe.duration(url)).toEqual({ ok: true, durationS: 6.5 });
    const s = stat('/c.mp4');
    expect(s.requests).toBe(first + 1);
    expect(s.headers.at(-1)?.['if-none-match']).toBe('"v1"');
    // The 304 renewed the entry.
    clock += 30_000;
    await probe.duration(url);
    expect(stat('/c.mp4').requests).toBe(first + 1);

    // A changed file (new ETag) is re-read after the next expiry.
    files.set('/c.mp4', { body: syntheticMp4({ durationS: 8 }), etag: '"v2"' });
    clock += 61_000;
    expect(await probe.duration(url)).toEqual({ ok: true, durationS: 8 });
  });

  it('shares one probe between concurrent callers and evicts least recently used entries', async () => {
    for (const n of [1, 2, 3]) files.set(`/${n}.mp4`, { body: syntheticMp4({ durationS: n + 3 }) });
    const probe = createMediaProbe({ dispatcher: agent, cacheSize: 2 });
    const [a, b] = await Promise.all([probe.duration(`${base}/1.mp4`), probe.duration(`${base}/1.mp4`)]);
    expect(a).toEqual({ ok: true, durationS: 4 });
    expect(b).toEqual(a);
    expect(stat('/1.mp4').requests).toBe(1);
    await probe.duration(`${base}/2.mp4`);
    await probe.duration(`${base}/1.mp4`); // touch 1 so 2 is the oldest
    await probe.duration(`${base}/3.mp4`); // evicts 2
    await probe.duration(`${base}/1.mp4`);
    await probe.duration(`${base}/2.mp4`);
    expect(stat('/1.mp4').requests).toBe(1);
    expect(stat('/2.mp4').requests).toBe(2);
  });

  it('does not cache failures', async () => {
    const probe = createMediaProbe({ dispatcher: agent });
    const url = `${base}/later.mp4`;
    expect((await probe.duration(url)).ok).toBe(false);
    files.set('/later.mp4', { body: syntheticMp4({ durationS: 3 }) });
    expect(await probe.duration(url)).toEqual({ ok: true, durationS: 3 });
  });

  it('ends at the deadline even while a slow guard is still deciding', async () => {
    files.set('/g.mp4', { body: syntheticMp4({ durationS: 3 }) });
    const probe = createMediaProbe({ dispatcher: agent, timeoutMs: 200, guard: () => new Promise((r) => setTimeout(r, 2000)) });
    const t0 = performance.now();
    expect(await probe.duration(`${base}/g.mp4`)).toEqual({ ok: false, reason: 'timed out after 200 ms' });
    expect(performance.now() - t0).toBeLessThan(800);
  });
});
