/**
 * GET/HEAD {base}/files/{token}.{ext}: a stored file, no key needed (the random token is the
 * capability), with single byte ranges as a CDN answers them. Bytes stream from disk.
 */
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { FileStore } from '../../files/store.ts';
import type { AppEnv } from '../env.ts';

/** A parsed `Range` header against a file of `size` bytes. */
export type RangeRequest = { kind: 'all' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * RFC 9110 §14: one `bytes=` range (`a-b`, `a-`, `-n`). Several ranges or a malformed header are
 * ignored (the whole file, as the RFC allows); a well-formed range that misses the file is 416.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (!header) return { kind: 'all' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'all' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) return { kind: 'all' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

// Caches may keep a file for a while, but not past its expiry, and a DELETE should win soon.
const MAX_AGE_S = 3600;

export async function serveFile(c: Context<AppEnv>, files: FileStore, now: () => number): Promise<Response> {
  const row = await files.byPublicName(c.req.param('name') ?? '');
  const notFound = () => new Response(JSON.stringify({ error: { code: 'not_found', message: 'no such file', type: 'invalid_request_error', param: null, request_id: c.get('requestId') } }), {
    status: 404,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
  if (!row) return notFound();
  const size = files.blobs.size(row.sha256);
  if (size === null) return notFound();
  const etag = `"${row.sha256}"`;
  const maxAge = Math.max(0, Math.min(MAX_AGE_S, Math.floor((row.expiresAt - now()) / 1000)));
  const headers: Record<string, string> = {
    'content-type': row.contentType,
    'accept-ranges': 'bytes',
    etag,
    'cache-control': `public, max-age=${maxAge}`,
    'x-content-type-options': 'nosniff',
  };
  if (c.req.header('if-none-match')?.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    return new Response(null, { status: 304, headers });
  }
  // If-Range with another validator: the client's copy is stale, so it gets the whole file.
  const ifRange = c.req.header('if-range');
  const range = ifRange && ifRange !== etag ? ({ kind: 'all' } as const) : parseRange(c.req.header('range'), size);
  if (range.kind === 'unsatisfiable') {
    return new Response(null, { status: 416, headers: { ...headers, 'content-range': `bytes */${size}`, 'content-length': '0' } });
  }
  const head = c.req.method === 'HEAD';
  const [status, start, end] = range.kind === 'range' ? [206, range.start, range.end] : [200, 0, size - 1];
  headers['content-length'] = String(size === 0 ? 0 : end - start + 1);
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  if (head || size === 0) return new Response(null, { status, headers });
  let stream: Readable;
  try {
    stream = files.blobs.open(row.sha256, { start, end });
  } catch {
    return notFound(); // deleted or expired since the lookup
  }
  const body = Readable.toWeb(stream) as ReadableStream<Uint8Array>;
  return new Response(body, { status, headers });
}
