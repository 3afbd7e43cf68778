// The dashboard's one way to talk to the gateway: same-origin fetch with the session cookie, the
// error envelope turned into a sentence. No key is ever held in script or storage.

/** A failed call: `message` is the gateway's own words (or ours when it could not be reached). */
export class ApiError extends Error {
  constructor(message, { status = 0, code = 'network_error', param = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

/**
 * Call the gateway. `body` is sent as JSON, `form` (FormData) as multipart. Resolves to the parsed
 * JSON (or text), rejects with ApiError.
 */
export async function api(path, { method = 'GET', body, form, signal } = {}) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' }, signal };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  } else if (form) {
    init.body = form;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError('The gateway cannot be reached. Check that it is running, then try again.');
  }
  const text = await res.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' ? data.error : null;
    if (res.status === 401 && !path.startsWith('/dashboard/session')) {
      // The session ended (expired, revoked key, signed out elsewhere): back to sign-in.
      location.assign(`/dashboard/sign-in?next=${encodeURIComponent(location.pathname)}`);
    }
    const message = e?.message ? `${e.message}` : `The gateway answered ${res.status} ${res.statusText}.`;
    throw new ApiError(message, { status: res.status, code: e?.code ?? `http_${res.status}`, param: e?.param ?? null });
  }
  return data;
}

/** Whether an error means the route is not there (yet) on this gateway. */
export const isMissingRoute = (err) => err instanceof ApiError && err.status === 404 && err.code === 'not_found';
