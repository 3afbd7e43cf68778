/**
 * Kling emulator: credentials and error bodies, from PROVIDERS.md. New-format endpoints take
 * `Bearer <api_key>` and refuse a JWT (401, code 1002); legacy endpoints take `Bearer <JWT>`
 * (HS256, `iss` = access key, `exp`/`nbf` checked against the emulator clock).
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { EmulatorState } from '../emulator-kit.ts';

/** A Kling error body: `{code, message, request_id}`. */
export function klingError(c: Context, httpStatus: number, code: number, message: string): Response {
  return c.json({ code, message, request_id: randomUUID() }, httpStatus as 400);
}

/**
 * Injected `status` faults → Kling code (the HTTP status stays the one injected). A fault of
 * status 200 is Kling's in-band error: HTTP 200 with code 1303 (concurrency limit).
 */
const FAULT_CODES: Record<number, [number, string]> = {
  200: [1303, 'The number of concurrent tasks exceeds the limit of your resource pack'],
  400: [1201, 'Invalid request parameters'],
  401: [1000, 'Authentication failed'],
  402: [1101, 'Account in arrears'],
  403: [1103, 'No permission to access the requested resource'],
  404: [1203, 'The requested resource does not exist'],
  422: [1201, 'Invalid request parameters'],
  429: [1303, 'The number of concurrent tasks exceeds the limit of your resource pack'],
  500: [5000, 'Server internal error'],
  502: [5001, 'Server temporarily unavailable'],
  503: [5001, 'Server temporarily unavailable'],
  504: [5002, 'Server internal timeout'],
};

/** Give a queued `status` fault without a body a Kling-shaped body with a matching code. */
export function shapeNextFault(state: EmulatorState): void {
  const next = state.submitFaults[0];
  if (next?.kind !== 'status' || next.body !== undefined) return;
  const [code, message] = FAULT_CODES[next.status] ?? (next.status >= 500 ? [5000, 'Server internal error'] : [1200, 'Invalid request']);
  state.submitFaults[0] = { ...next, body: { code, message, request_id: randomUUID() } };
}

function bearer(c: Context): string {
  const header = c.req.header('authorization') ?? '';
  return header.startsWith('Bearer ') ? header.slice(7).trim() : '';
}

function looksLikeJwt(token: string): boolean {
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) return false;
  try {
    decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}

/** New-format auth: the api_key itself. Returns an error response, or null to go on. */
export function checkApiKey(c: Context, state: EmulatorState): Response | null {
  const token = bearer(c);
  if (!token) return klingError(c, 401, 1001, 'Authorization is empty');
  if (looksLikeJwt(token)) return klingError(c, 401, 1002, 'Authorization is invalid: this API takes an API key, not a JWT');
  const expected = state.credentials.apiKey;
  if (expected !== undefined && token !== expected) return klingError(c, 401, 1000, 'Authentication failed');
  return null;
}

/** Legacy auth: a JWT signed with the secret key. Returns an error response, or null to go on. */
export async function checkJwt(c: Context, state: EmulatorState): Promise<Response | null> {
  const token = bearer(c);
  if (!token) return klingError(c, 401, 1001, 'Authorization is empty');
  if (!looksLikeJwt(token)) return klingError(c, 401, 1002, 'Authorization is invalid');
  const { accessKey, secretKey } = state.credentials;
  const nowS = Math.floor(state.now() / 1000);
  if (secretKey === undefined) {
    // No credentials configured: accept any well-formed token, but still check its times.
    const claims = decodeJwt(token);
    if (typeof claims.nbf === 'number' && claims.nbf > nowS) return klingError(c, 401, 1003, 'Authorization is not yet valid');
    if (typeof claims.exp === 'number' && claims.exp <= nowS) return klingError(c, 401, 1004, 'Authorization has expired');
    return null;
  }
  try {
    await jwtVerify(token, new TextEncoder().encode(secretKey), {
      algorithms: ['HS256'],
      currentDate: new Date(state.now()),
      requiredClaims: ['iss', 'exp'],
      ...(accessKey !== undefined ? { issuer: accessKey } : {}),
    });
    return null;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return klingError(c, 401, 1004, 'Authorization has expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') {
      return klingError(c, 401, 1003, 'Authorization is not yet valid');
    }
    return klingError(c, 401, 1000, 'Authentication failed');
  }
}
