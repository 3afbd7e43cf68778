/** Uploads and public file URLs over real HTTP (CONTRACT §8): types, limits, ranges, isolation, expiry. */
import { defaultFilesDir } from '../../src/files/store.ts';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import { createRuntime } from '../../src/runtime.ts';
import { parseRange } from '../../src/http/files/serve.ts';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.ts';
import { GIF, JPEG, MOV, MP4, PNG, TEXT, WEBM, WEBP } from './files-fixtures.ts';

const MAX = 200_000;
let gw: Gateway;
let filesDir: string;

beforeAll(async () => {
  gw = await startGateway({ providers: [{ id: 'fal-1', type: 'fal', price: { '720p': 0.1, '1080p': 0.2 } }], config: { files: { max_bytes: MAX, retention_hours: 2 } } });
  filesDir = defaultFilesDir(gw.runtime.ctx.config, gw.dbPath);
});
afterAll(() => gw.close());

async function upload(bytes: Buffer, opts: { key?: string; name?: string; type?: string } = {}) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: opts.type ?? 'application/octet-stream' }), opts.name ?? 'upload.bin');
  const key = opts.key ?? (await defaultKey());
  const res = await fetch(`${gw.url}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

let keyCache: string | undefined;
async function defaultKey(): Promise<string> {
  keyCache ??= (await gw.createKey({ name: 'uploader' })).key;
  return keyCache;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tmpFiles = () => readdirSync(join(filesDir, 'tmp'));
const blobCount = () => readdirSync(join(filesDir, 'blobs')).flatMap((d) => readdirSync(join(filesDir, 'blobs', d))).length;

/** Send a chunked multipart body by hand and read the answer, even when the server closes early. */
function rawUpload(key: string, size: number, field = 'file'): Promise<{ status: number; body: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const boundary = 'b0undary';
    const url = new URL(`${gw.url}/v1/files`);
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, closed: res.headers.connection === 'close' }));
    });
    req.on('error', () => undefined); // the server may stop reading once it has answered
    req.write(`--${boundary}\r\ncontent-disposition: form-data; name="${field}"; filename="big.mp4"\r\ncontent-type: video/mp4\r\n\r\n`);
    const video = MP4(5);
    req.write(video);
    let sent = video.length;
    const chunk = Buffer.alloc(16 * 1024, 1);
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end(`\r\n--${boundary}--\r\n`);
    };
    pump();
    setTimeout(() => reject(new Error('no answer')), 10_000).unref();
  });
}

describe('files', () => {
  it('refuses uploads with 400 public_base_url_required while upstreams cannot reach the gateway', async () => {
    const res = await upload(PNG);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('public_base_url_required');
    // Demo-mode wiring: the gateway's own loopback address becomes the base.
    gw.runtime.files.files.useLoopbackBase(gw.url);
  });

  it('stores each accepted type, typed from its bytes, with sha256, expiry and a random URL', async () => {
    const cases: [Buffer, string][] = [
      [PNG, 'image/png'],
      [JPEG, 'image/jpeg'],
      [WEBP, 'image/webp'],
      [MP4(7.4), 'video/mp4'],
      [MOV, 'video/quicktime'],
      [WEBM, 'video/webm'],
    ];
    for (const [bytes, type] of cases) {
      // The declared type and the name lie: only the bytes count.
      const res = await upload(bytes, { type: 'text/plain', name: 'x.txt' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ object: 'file', purpose: 'upload', bytes: bytes.length, content_type: type, sha256: sha(bytes) });
      expect(res.body.id).toMatch(/^file_/);
      expect(res.body.expires_at - res.body.created).toBe(2 * 3600);
      expect(res.body.url).toMatch(new RegExp(`^${gw.url}/files/[A-Za-z0-9_-]{32}\\.`));
      expect(res.body.url).not.toContain(res.body.id);
      const served = await fetch(res.body.url);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe(type);
      expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
    }
    const mp4 = (await upload(MP4(7.4))).body;
    expect(mp4.duration_s).toBeCloseTo(7.4, 3);
    expect([mp4.width, mp4.height]).toEqual([1280, 720]);
  });

  it('refuses other types with 415 and keeps nothing', async () => {
    const blobs = blobCount();
    for (const bytes of [TEXT, GIF]) {
      const res = await upload(bytes, { name: 'clip.mp4', type: 'video/mp4' });
      expect(res.status).toBe(415);
      expect(res.body.error).toMatchObject({ code: 'unsupported_file_type', type: 'invalid_request_error', param: 'file' });
    }
    expect(blobCount()).toBe(blobs);
    expect(tmpFiles()).toEqual([]);
  });

  it('cuts an oversized upload off at files.max_bytes with 413, closes the connection, keeps nothing', async () => {
    const blobs = blobCount();
    // Declared too big: refused before any byte is read.
    const declared = await upload(Buffer.concat([MP4(5), Buffer.alloc(MAX + 100_000)]));
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('file_too_large');
    // Chunked (no length): streamed until the limit, then cut.
    const streamed = await rawUpload(await defaultKey(), MAX + 50_000);
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error.code).toBe('file_too_large');
    expect(streamed.closed).toBe(true);
    expect(blobCount()).toBe(blobs);
    expect(tmpFiles()).toEqual([]);
    // The whole body is bounded, not only the kept part: a huge part of another name is cut too.
    const other = await rawUpload(await defaultKey(), MAX + 200_000, 'junk');
    expect(other.status).toBe(413);
    expect(other.closed).toBe(true);
    // Just under the limit is fine.
    const fits = await rawUpload(await defaultKey(), MAX - 20_000);
    expect(fits.status).toBe(200);
  });

  it('keeps nothing of an upload whose client goes away mid-body', async () => {
    const blobs = blobCount();
    const url = new URL(`${gw.url}/v1/files`);
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${await defaultKey()}`, 'content-type': 'multipart/form-data; boundary=xx', 'transfer-encoding': 'chunked' } });
    req.on('error', () => undefined);
    req.write('--xx\r\ncontent-disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n');
    req.write(MP4(5));
    req.write(Buffer.alloc(50_000));
    for (let i = 0; i < 100 && tmpFiles().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(tmpFiles()).toHaveLength(1); // streaming to a temp file, not held in memory
    req.destroy();
    for (let i = 0; i < 50 && tmpFiles().length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(tmpFiles()).toEqual([]);
    expect(blobCount()).toBe(blobs);
  });

  it('keeps the same bytes once, yet each upload has its own URL and deleting one never breaks another', async () => {
    const bytes = MP4(4.2);
    const a = (await upload(bytes)).body;
    const b = (await upload(bytes)).body;
    expect(a.sha256).toBe(b.sha256);
    expect(a.url).not.toBe(b.url);
    expect(existsSync(join(filesDir, 'blobs', a.sha256.slice(0, 2), a.sha256))).toBe(true);
    const del = await gw.call('DELETE', `/v1/files/${a.id}`, { key: await defaultKey() });
    expect(del.status).toBe(200);
    expect((await fetch(a.url)).status).toBe(404);
    expect((await gw.call('GET', `/v1/files/${a.id}`, { key: await defaultKey() })).status).toBe(404);
    expect((await fetch(b.url)).status).toBe(200);
    await gw.call('DELETE', `/v1/files/${b.id}`, { key: await defaultKey() });
    expect(existsSync(join(filesDir, 'blobs', a.sha256.slice(0, 2), a.sha256))).toBe(false);
  });

  it('serves single ranges (suffix included) with 206, 416 when unsatisfiable, HEAD, etag and cache-control', async () => {
    const bytes = Buffer.concat([MP4(3), Buffer.from('0123456789')]);
    const f = (await upload(bytes)).body;
    const get = (range?: string, method = 'GET') => fetch(f.url, { method, headers: range ? { range } : {} });
    const first = await get('bytes=0-9');
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-9/${bytes.length}`);
    expect(Buffer.from(await first.arrayBuffer()).equals(bytes.subarray(0, 10))).toBe(true);
    const suffix = await get('bytes=-10');
    expect(suffix.status).toBe(206);
    expect(await suffix.text()).toBe('0123456789');
    const open = await get(`bytes=${bytes.length - 4}-`);
    expect(await open.text()).toBe('6789');
    const past = await get(`bytes=${bytes.length}-`);
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    const head = await get(undefined, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect(head.headers.get('etag')).toBe(`"${f.sha256}"`);
    expect(head.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect((await fetch(f.url, { headers: { 'if-none-match': `"${f.sha256}"` } })).status).toBe(304);
    expect((await fetch(`${gw.url}/files/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.mp4`)).status).toBe(404);
  });

  it('reads Range headers as RFC 9110 says (one range; junk and multiple ranges ignored)', () => {
    expect(parseRange('bytes=0-0', 10)).toEqual({ kind: 'range', start: 0, end: 0 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ kind: 'range', start: 5, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ kind: 'range', start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ kind: 'range', start: 0, end: 9 });
    expect(parseRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=10-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,4-5', 10)).toEqual({ kind: 'all' });
    expect(parseRange('bytes=5-2', 10)).toEqual({ kind: 'all' });
    expect(parseRange('items=0-1', 10)).toEqual({ kind: 'all' });
    expect(parseRange(undefined, 10)).toEqual({ kind: 'all' });
  });

  it("isolates keys: another key's file is 404 and never listed", async () => {
    const mine = (await upload(PNG)).body;
    const other = (await gw.createKey({ name: 'other' })).key;
    expect((await gw.call('GET', `/v1/files/${mine.id}`, { key: other })).status).toBe(404);
    expect((await gw.call('DELETE', `/v1/files/${mine.id}`, { key: other })).status).toBe(404);
    const theirs = (await upload(PNG, { key: other })).body;
    expect(theirs.url).not.toBe(mine.url);
    const list = await gw.call('GET', '/v1/files?limit=100', { key: other });
    expect(list.body.data.map((f: { id: string }) => f.id)).toEqual([theirs.id]);
    const page = await gw.call('GET', '/v1/files?limit=2', { key: await defaultKey() });
    expect(page.body).toMatchObject({ object: 'list', has_more: true });
    const next = await gw.call('GET', `/v1/files?limit=2&after=${page.body.data[1].id}`, { key: await defaultKey() });
    expect(next.body.data[0].id < page.body.data[1].id).toBe(true);
    const still = await fetch(mine.url);
    expect(still.status).toBe(200);
    await still.arrayBuffer();
  });

  it('a restart removes what a killed upload left (temp files, unclaimed blobs) and keeps every stored file', async () => {
    const kept = (await upload(MP4(3.3))).body;
    writeFileSync(join(filesDir, 'tmp', 'killed-mid-upload.part'), Buffer.alloc(1000));
    const orphan = 'ab'.repeat(32);
    mkdirSync(join(filesDir, 'blobs', 'ab'), { recursive: true });
    writeFileSync(join(filesDir, 'blobs', 'ab', orphan), 'claimed by no file');
    // Left by a crash two hours ago (in a folder replicas share, younger ones may be another replica's upload in progress).
    const longAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(filesDir, 'tmp', 'killed-mid-upload.part'), longAgo, longAgo);
    utimesSync(join(filesDir, 'blobs', 'ab', orphan), longAgo, longAgo);
    // What the next process does at start, over the same database and folder.
    await createRuntime({ config: gw.runtime.ctx.config, store: gw.store, adminKey: 'x', log: pino({ level: 'silent' }) });
    expect(tmpFiles()).toEqual([]);
    expect(existsSync(join(filesDir, 'blobs', 'ab', orphan))).toBe(false);
    const served = await fetch(kept.url);
    expect(Buffer.from(await served.arrayBuffer()).equals(MP4(3.3))).toBe(true);
  });

  it('expires files after files.retention_hours: bytes deleted, row kept', async () => {
    const f = (await upload(MP4(6.6))).body;
    gw.advance(2 * 3600_000 + 1);
    expect((await gw.runtime.files.files.expireDue())).toBeGreaterThan(0);
    expect((await fetch(f.url)).status).toBe(404);
    const row = await gw.call('GET', `/v1/files/${f.id}`, { key: await defaultKey() });
    expect(row.body).toMatchObject({ id: f.id, status: 'expired' });
    expect(existsSync(join(filesDir, 'blobs', f.sha256.slice(0, 2), f.sha256))).toBe(false);
    expect(blobCount()).toBe(0);
  });
});
