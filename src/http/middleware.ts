/**
 * Cross-cutting HTTP behaviour: request ids, the one error envelope (for thrown errors, 404 and
 * 405), JSON bodies (415 for non-JSON, 413 over the limit, 400 for malformed), and bearer auth.
 */
import { randomBytes } from 'node:crypto';
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError, errorBody } from '../errors.ts';
import { sameSecret, type KeyAuth } from '../keys/keys.ts';
import type { AppEnv } from './env.ts';
import type { SessionResolver } from './session.ts';
import type { Logger } from 'pino';

/**
 * Give every request an id (`req_…`), echoed in `x-request-id` and in error bodies. A random
 * per-process prefix plus a counter: unique, and no CSPRNG call per request (ids are not secrets).
 */
/**
 * No id, name or cursor of ours holds a NUL character (PostgreSQL text cannot store one), so a path
 * with one names nothing (404) and a query value with one is refused (400) before any lookup: the
 * same answers on both engines.
 */
export function refuseNul(): MiddlewareHandler<AppEnv> {
  return async function refuseNulMiddleware(c, next) {
    const url = c.req.url;
    if (!url.includes('%00') && !url.includes('\0')) return next();
    const { pathname, searchParams } = new URL(url);
    if (/%00/.test(pathname)) throw new ApiError('not_found', 'no such resource');
    for (const [name, value] of searchParams) {
      if (name.includes('\0') || value.includes('\0')) throw new ApiError('invalid_parameter', `${name.replace(/\0/g, '')}: must not contain NUL`, { param: name.replace(/\0/g, '') });
    }
    return next();
  };
}

export function requestId(): MiddlewareHandler<AppEnv> {
  const prefix = randomBytes(6).toString('hex');
  let counter = 0;
  return async function requestIdMiddleware(c, next) {
    const id = `req_${prefix}${(counter++).toString(16).padStart(12, '0')}`;
    c.set('requestId', id);
    c.header('x-request-id', id);
    await next();
  };
}

/** Send an ApiError as the envelope. */
export function sendError(c: Context<AppEnv>, err: ApiError): Response {
  const requestId = c.get('requestId') ?? `req_${randomBytes(12).toString('hex')}`;
  const headers: Record<string, string> = { 'x-request-id': requestId, ...err.headers };
  return c.json(errorBody(err, requestId), err.status as 400, headers);
}

/** Every thrown error becomes the envelope; unknown ones are logged and answered as a bare 500. */
export function onError(log: Logger): ErrorHandler<AppEnv> {
  return function errorHandler(err, c) {
    if (err instanceof ApiError) return sendError(c, err);
    log.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return sendError(c, new ApiError('internal_error', 'internal error; the request id helps us find it'));
  };
}

/** 405 when the path exists with another method, else 404. */
export function notFound(routes: () => readonly { method: string; path: string }[]): NotFoundHandler<AppEnv> {
  return function notFoundHandler(c) {
    const allowed = routes()
      .filter((r) => r.method !== 'ALL' && matches(r.path, c.req.path))
      .map((r) => r.method);
    if (allowed.length && !allowed.includes(c.req.method)) {
      const methods = [...new Set(allowed)].join(', ');
      return sendError(c, new ApiError('method_not_allowed', `${c.req.method} is not allowed here (allowed: ${methods})`, { headers: { allow: methods } }));
    }
    return sendError(c, new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`));
  };
}

function matches(pattern: string, path: string): boolean {
  const p = pattern.split('/');
  const s = path.split('/');
  return p.length === s.length && p.every((part, i) => part.startsWith(':') || part === s[i]);
}

/**
 * Reject bodies over `maxBytes` with 413 before reading them. A declared Content-Length is checked
 * directly (Node's parser holds the body to it); only chunked bodies go through hono's streaming
 * limiter, which would otherwise build a full Web Request for every call.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = () =>
    // The rest of the body is never read, so the connection cannot be reused.
    new ApiError('payload_too_large', `request body is larger than ${maxBytes} bytes`, { headers: { connection: 'close' } });
  const streaming = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  return async function limitBodyMiddleware(c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const declared = c.req.header('content-length');
    if (declared !== undefined) {
      if (Number(declared) > maxBytes) throw tooLarge();
      return next();
    }
    if (c.req.header('transfer-encoding') === undefined) return next();
    return streaming(c, next);
  };
}

/** Read a JSON body: 415 unless it is declared JSON, 400 when it does not parse. */
export async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([\w.+-]*\+)?json\b/i.test(type)) {
    throw new ApiError('unsupported_media_type', 'request body must be JSON (content-type: application/json)');
  }
  let text: string;
  try {
    text = await c.req.text();
  } catch {
    // The body stopped arriving: the client went away or was cut off as too slow (src/http/slow-clients.ts).
    throw new ApiError('request_timeout', 'the request body was not received in full');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'request body is not valid JSON');
  }
}

function bearer(c: Context): string | null {
  const h = c.req.header('authorization');
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : '';
}

/** Client routes: a live API key, never the admin key. */
export function clientAuth(auth: KeyAuth, adminKey: string, session?: SessionResolver): MiddlewareHandler<AppEnv> {
  return async function clientAuthMiddleware(c, next) {
    const secret = bearer(c);
    // No bearer: a dashboard session cookie may stand in for it (an admin's acts as its Playground key).
    const viaSession = secret === null ? await session?.(c) : null;
    if (viaSession) {
      if (!viaSession.key) throw new ApiError('invalid_api_key', 'the dashboard Playground key was revoked; sign in again');
      c.set('apiKey', viaSession.key);
      return next();
    }
    if (secret === null) throw new ApiError('missing_api_key', 'missing API key (Authorization: Bearer <key>)');
    const key = secret ? await auth.authenticate(secret) : null;
    if (!key) {
      if (secret && sameSecret(secret, adminKey)) throw new ApiError('permission_denied', 'the admin key cannot call client routes; use an API key');
      throw new ApiError('invalid_api_key', 'invalid or revoked API key');
    }
    c.set('apiKey', key);
    await next();
  };
}

/** Admin routes: only the admin key. */
export function adminAuth(auth: KeyAuth, adminKey: string, session?: SessionResolver): MiddlewareHandler<AppEnv> {
  return async function adminAuthMiddleware(c, next) {
    const secret = bearer(c);
    const viaSession = secret === null ? await session?.(c) : null;
    if (viaSession) {
      if (viaSession.role !== 'admin') throw new ApiError('permission_denied', 'API keys cannot call admin routes');
      return next();
    }
    if (secret === null) throw new ApiError('missing_api_key', 'missing admin key (Authorization: Bearer <admin key>)');
    if (!secret || !sameSecret(secret, adminKey)) {
      if (secret && (await auth.authenticate(secret))) throw new ApiError('permission_denied', 'API keys cannot call admin routes');
      throw new ApiError('invalid_api_key', 'invalid admin key');
    }
    await next();
  };
}
