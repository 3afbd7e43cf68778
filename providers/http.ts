/**
 * The one way adapters talk HTTP: undici over a shared keep-alive pool, a timeout on every call,
 * a cap on response size, and transport failures turned into classified {@link ProviderError}s.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { ProviderError, type ProviderErrorKind } from './types.ts';

/** Keep-alive pool shared by every adapter; limits keep a slow upstream from eating all sockets. */
export const upstreamAgent = new Agent({
  connections: 256,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 60_000,
  connect: { timeout: 5_000 },
});

const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;

export interface JsonRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export interface JsonResponse {
  status: number;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  body: unknown;
  text: string;
}

/** Status code → kind, for answers that came back with an HTTP error. */
export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 429) return 'rate_limited';
  // 402: our account with the provider ran out of credit — the provider's side, so fail over.
  if (status === 402) return 'unavailable';
  if (status === 401 || status === 403) return 'auth';
  if (status === 400 || status === 422) return 'invalid_request';
  if (status === 404) return 'not_found';
  if (status >= 500) return 'unavailable';
  return 'bad_response';
}

/** Codes that mean the request never reached the upstream, so nothing can have been created. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Turn a transport error into a classified ProviderError. */
export function transportError(err: unknown, url: string): ProviderError {
  const code = errorCode(err);
  const where = new URL(url).origin;
  if (code !== undefined && NOT_SENT.has(code)) {
    return new ProviderError('unavailable', `cannot connect to ${where} (${code})`, { code, cause: err });
  }
  if ((code !== undefined && TIMEOUTS.has(code)) || (err instanceof Error && err.name === 'TimeoutError')) {
    return new ProviderError('timeout', `no answer from ${where} in time`, { code: code ?? 'timeout', cause: err });
  }
  return new ProviderError('unknown_outcome', `connection to ${where} lost (${code ?? 'error'})`, { code, cause: err });
}

function errorCode(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Send a request and read a JSON answer. Throws ProviderError only for transport failures. */
export async function sendJson(req: JsonRequest): Promise<JsonResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let payload: string | undefined;
  if (req.body !== undefined) {
    payload = JSON.stringify(req.body);
    headers['content-type'] = 'application/json';
  }
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      method: req.method,
      headers,
      body: payload,
      dispatcher: req.dispatcher ?? upstreamAgent,
      // Both bound the call: no answer headers, or no body bytes, within the timeout.
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
  } catch (err) {
    throw transportError(err, req.url);
  }
  let text: string;
  try {
    text = await readCapped(res.body);
  } catch (err) {
    throw err instanceof ProviderError ? err : transportError(err, req.url);
  }
  return { status: res.statusCode, body: parseJson(text), text };
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy();
      throw new ProviderError('bad_response', `upstream answer larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Join an origin (maybe with a trailing slash or a path prefix) and a documented path. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}
