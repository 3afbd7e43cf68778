/**
 * The CLI's HTTP client for the admin API: bearer auth, a timeout on every call, and the API's error
 * envelope turned into an {@link ApiCallError} carrying the API's own message.
 */

/** Where and as whom the CLI talks (global `--url` / `--admin-key`). */
export interface Connection {
  url: string;
  adminKey: string | undefined;
}

/** An answer the API refused (4xx/5xx), or a gateway that could not be reached. */
export class ApiCallError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 60_000;

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** A raw body with its content type (statements). */
  body?: { text: string; type: string };
}

/** Make one call; returns the Response when it is 2xx, throws {@link ApiCallError} otherwise. */
export async function call(conn: Connection, method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  if (!conn.adminKey) throw new ApiCallError('no admin key: pass --admin-key or set REELROUTE_ADMIN_KEY', null, 'missing_api_key');
  const url = new URL(path, conn.url.endsWith('/') ? conn.url : `${conn.url}/`);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { authorization: `Bearer ${conn.adminKey}`, 'user-agent': 'reelroute-cli' };
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body) {
    headers['content-type'] = opts.body.type;
    body = opts.body.text;
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiCallError(`cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, null, null);
  }
  if (res.ok) return res;
  const text = await res.text();
  let message = `${res.status} ${res.statusText}`;
  let code: string | null = null;
  try {
    const env = JSON.parse(text) as { error?: { message?: string; code?: string; param?: string } };
    if (env.error?.message) message = `${env.error.message} (${env.error.code ?? res.status})`;
    code = env.error?.code ?? null;
  } catch {
    /* not the envelope (a proxy's page): keep the status line */
  }
  throw new ApiCallError(message, res.status, code);
}

/** A call whose answer is JSON. */
export async function callJson<T = any>(conn: Connection, method: string, path: string, opts: CallOptions = {}): Promise<T> {
  return (await (await call(conn, method, path, opts)).json()) as T;
}
