/**
 * One guarded, bounded HTTP GET for a byte range, used by the media probe. Follows redirects by
 * hand so the URL guard sees every hop, and never buffers more than the caller allows.
 */
import { request } from 'undici';
import type { Dispatcher } from 'undici';

/** A failure whose message is safe to hand back as a probe `reason`. */
export class ProbeError extends Error {}

/** Shared knobs for every request of one probe. */
export interface FetchContext {
  dispatcher: Dispatcher;
  signal: AbortSignal;
  /** Per-request header/body inactivity timeout, ms. */
  timeoutMs: number;
  guard?: ((url: URL) => Promise<void>) | undefined;
}

/** Validators remembered from an earlier answer, sent to revalidate a cached probe. */
export interface Validators {
  etag?: string | undefined;
  lastModified?: string | undefined;
}

/** An open response: status class, final URL, and the (still unread) body. */
export type RangeAnswer =
  | { kind: 'not-modified' }
  | {
      kind: 'partial' | 'full';
      url: URL;
      /** Total file size when the server told us (Content-Range or Content-Length of a 200). */
      total: number | undefined;
      validators: Validators;
      body: Dispatcher.ResponseData['body'];
    };

const MAX_REDIRECTS = 5;

/**
 * Drops a response body we no longer want. undici emits an AbortError on a body destroyed before
 * its end, which would surface as an uncaught exception without a listener.
 */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  if (!body.destroyed) body.destroy();
}

function header(h: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Requests `bytes=start-(start+length-1)` of `url`. Resolves with the open body for 206 and for a
 * 200 at offset 0 (a server that ignores Range); anything else becomes a ProbeError.
 */
export async function openRange(
  ctx: FetchContext,
  startUrl: URL,
  start: number,
  length: number,
  conditional?: Validators,
): Promise<RangeAnswer> {
  let url = startUrl;
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProbeError(`unsupported URL scheme ${url.protocol}`);
    if (ctx.guard) {
      try {
        await ctx.guard(url);
      } catch (err) {
        throw new ProbeError(err instanceof Error ? err.message : String(err));
      }
    }
    const headers: Record<string, string> = {
      range: `bytes=${start}-${start + length - 1}`,
      // Byte offsets are meaningless on a compressed representation.
      'accept-encoding': 'identity',
    };
    if (conditional?.etag) headers['if-none-match'] = conditional.etag;
    if (conditional?.lastModified) headers['if-modified-since'] = conditional.lastModified;
    const res = await request(url, {
      method: 'GET',
      headers,
      dispatcher: ctx.dispatcher,
      signal: ctx.signal,
      headersTimeout: ctx.timeoutMs,
      bodyTimeout: ctx.timeoutMs,
    });
    const status = res.statusCode;
    if (status >= 300 && status < 400 && status !== 304) {
      const location = header(res.headers, 'location');
      await res.body.dump().catch(() => undefined);
      if (!location) throw new ProbeError(`HTTP ${status} without Location`);
      if (hop >= MAX_REDIRECTS) throw new ProbeError('too many redirects');
      url = new URL(location, url);
      continue;
    }
    if (status === 304) {
      await res.body.dump().catch(() => undefined);
      return { kind: 'not-modified' };
    }
    const validators: Validators = {
      etag: header(res.headers, 'etag'),
      lastModified: header(res.headers, 'last-modified'),
    };
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
      if (!m || Number(m[1]) !== start) {
        discard(res.body);
        throw new ProbeError('server answered a different byte range than requested');
      }
      const total = m[3] === '*' ? undefined : Number(m[3]);
      return { kind: 'partial', url, total, validators, body: res.body };
    }
    if (status === 200) {
      if (start !== 0) {
        discard(res.body);
        throw new ProbeError('server ignores Range requests');
      }
      const len = Number(header(res.headers, 'content-length'));
      return { kind: 'full', url, total: Number.isFinite(len) ? len : undefined, validators, body: res.body };
    }
    discard(res.body);
    if (status === 416) throw new ProbeError('HTTP 416: range not satisfiable (empty or truncated file)');
    throw new ProbeError(`HTTP ${status} fetching media`);
  }
}

/**
 * Streams `body`, handing `onPiece` contiguous pieces of at least `pieceBytes` (the last may be
 * shorter) until the body ends, more than `cap` bytes arrive, or `onPiece` returns true; then destroys
 * the stream so a server that sends more than asked cannot make us download it. Returns bytes kept.
 */
export async function consumeBody(
  body: Dispatcher.ResponseData['body'],
  cap: number,
  pieceBytes: number,
  onPiece: (piece: Uint8Array) => boolean,
): Promise<number> {
  let received = 0;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const flush = (): boolean => {
    if (pendingLen === 0) return false;
    const piece = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    return onPiece(piece);
  };
  try {
    for await (const raw of body as AsyncIterable<Buffer>) {
      // Only cut the stream once the server sends past the cap: stopping exactly at the end of a
      // well-behaved 206 would reset a connection that keep-alive could reuse.
      const over = raw.byteLength > cap - received;
      const chunk = over ? raw.subarray(0, cap - received) : raw;
      received += chunk.byteLength;
      if (chunk.byteLength > 0) pending.push(chunk);
      pendingLen += chunk.byteLength;
      if (over) break;
      if (pendingLen >= pieceBytes && flush()) return received;
    }
    flush();
    return received;
  } finally {
    // No-op when the body ended normally; otherwise closes the connection mid-transfer.
    discard(body);
  }
}
