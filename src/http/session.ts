/**
 * Dashboard sessions (CONTRACT §10): a key is exchanged once for an `HttpOnly`, `SameSite=Strict`
 * cookie holding a random id; only the id's hash is stored. Sessions expire, end at sign-out, end
 * when their API key is revoked (or, for admin sessions, when the admin key changes), and a
 * state-changing call made with the cookie must carry this gateway's own `Origin`.
 */
import { randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { ApiError } from '../errors.ts';
import { createKey, hashKey, sameSecret } from '../keys/keys.ts';
import type { Store } from '../db/store.ts';
import type { ApiKeyRow, DashboardSessionRow } from '../db/schema/index.ts';
import type { AppDeps } from './deps.ts';
import type { AppEnv } from './env.ts';
import { readJson } from './middleware.ts';

export const SESSION_COOKIE = 'rr_session';
/** A signed-in browser stays signed in this long (absolute, not sliding). */
export const SESSION_TTL_MS = 12 * 3_600_000;
/** A one-time login link (the demo banner's) works this long, once. */
export const LOGIN_LINK_TTL_MS = 24 * 3_600_000;
/** The key an admin's Playground runs on: admins have no API key of their own. */
export const PLAYGROUND_KEY_NAME = 'dashboard playground';

/** Who a valid session cookie speaks for. `key` is the API key /v1 routes act as (admin: the Playground key). */
export interface SessionAuth {
  role: 'admin' | 'key';
  key: ApiKeyRow | null;
}

/** Reads the session cookie of a request: null when there is none, a 401/403 when it cannot be used. */
export type SessionResolver = (c: Context) => Promise<SessionAuth | null>;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The origins a browser may send on our own pages: the request's own, and public_base_url's. */
function sameOrigin(c: Context, publicBaseUrl: string | undefined): boolean {
  const origin = c.req.header('origin');
  if (!origin) return false;
  if (origin === new URL(c.req.url).origin) return true;
  return publicBaseUrl !== undefined && origin === new URL(publicBaseUrl).origin;
}

function requireOrigin(c: Context, publicBaseUrl: string | undefined): void {
  if (UNSAFE.has(c.req.method) && !sameOrigin(c, publicBaseUrl)) {
    throw new ApiError('permission_denied', 'a call made with the dashboard session must come from the dashboard (missing or foreign Origin)');
  }
}

/**
 * Issue a one-time login link token for `role` (a `key` role names its API key). Opening
 * `/dashboard/login/<token>` signs the browser in and deletes the token.
 */
export async function issueLoginToken(store: Store, subject: { role: 'admin'; adminKey: string } | { role: 'key'; keyId: string }, now: number): Promise<string> {
  const token = newToken();
  await store.sessions.insert({
    idHash: hashKey(token),
    purpose: 'login',
    role: subject.role,
    keyId: subject.role === 'key' ? subject.keyId : null,
    adminHash: subject.role === 'admin' ? hashKey(subject.adminKey) : null,
    createdAt: now,
    expiresAt: now + LOGIN_LINK_TTL_MS,
  });
  return token;
}

/** Session lookups and the sign-in / sign-out / login-link routes. */
export function createSessions(deps: AppDeps) {
  const { store, now } = deps.ctx;
  const publicBaseUrl = deps.ctx.config.server.public_base_url ?? undefined;
  const adminHash = hashKey(deps.adminKey);

  /** The admin Playground's key: the live key named {@link PLAYGROUND_KEY_NAME}, created post-paid when missing. */
  async function playgroundKey(): Promise<string> {
    const live = (await store.keys.list()).find((k) => k.name === PLAYGROUND_KEY_NAME && k.revokedAt === null);
    if (live) return live.id;
    return (await createKey(store, { name: PLAYGROUND_KEY_NAME, balanceMicros: null, dailyBudgetMicros: null, monthlyBudgetMicros: null }, now())).row.id;
  }

  async function start(c: Context, role: 'admin' | 'key', keyId: string | null): Promise<void> {
    const id = newToken();
    const at = now();
    await store.sessions.purgeExpired(at);
    await store.sessions.insert({
      idHash: hashKey(id),
      purpose: 'session',
      role,
      keyId: role === 'admin' ? await playgroundKey() : keyId,
      adminHash: role === 'admin' ? adminHash : null,
      createdAt: at,
      expiresAt: at + SESSION_TTL_MS,
    });
    setCookie(c, SESSION_COOKIE, id, {
      path: '/',
      httpOnly: true,
      sameSite: 'Strict',
      // Behind a TLS-terminating proxy the request itself looks like http: public_base_url tells.
      secure: new URL(c.req.url).protocol === 'https:' || publicBaseUrl?.startsWith('https:') === true,
      maxAge: SESSION_TTL_MS / 1000,
    });
  }

  /** The row behind a session id, or null when it expired or its key is gone. */
  async function live(row: DashboardSessionRow | undefined): Promise<SessionAuth | null> {
    if (!row || row.expiresAt <= now()) return null;
    const key = row.keyId ? ((await store.keys.byId(row.keyId)) ?? null) : null;
    if (row.role === 'admin') return row.adminHash === adminHash ? { role: 'admin', key: key?.revokedAt === null ? key : null } : null;
    return key && key.revokedAt === null ? { role: 'key', key } : null;
  }

  const resolve: SessionResolver = async (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (!id) return null;
    const session = await live(await store.sessions.get(hashKey(id), 'session'));
    if (!session) throw new ApiError('invalid_api_key', 'your dashboard session has ended (expired, signed out or its key was revoked); sign in again');
    requireOrigin(c, publicBaseUrl);
    return session;
  };

  function routes(app: Hono<AppEnv>): void {
    app.post('/dashboard/session', async (c) => {
      requireOrigin(c, publicBaseUrl);
      const body = (await readJson(c)) as { key?: unknown } | null;
      const secret = typeof body?.key === 'string' ? body.key.trim() : '';
      if (!secret) throw new ApiError('missing_parameter', 'key: enter an API key or the admin key', { param: 'key' });
      if (sameSecret(secret, deps.adminKey)) {
        await start(c, 'admin', null);
        return c.json({ object: 'session', role: 'admin' });
      }
      const key = await deps.auth.authenticate(secret);
      if (!key) throw new ApiError('invalid_api_key', 'that key is not valid (or was revoked)', { param: 'key' });
      await start(c, 'key', key.id);
      return c.json({ object: 'session', role: 'key', key: { id: key.id, name: key.name, prefix: key.prefix } });
    });

    app.get('/dashboard/session', async (c) => {
      const s = await resolve(c);
      if (!s) throw new ApiError('missing_api_key', 'not signed in');
      return c.json({ object: 'session', role: s.role, key: s.key && { id: s.key.id, name: s.key.name, prefix: s.key.prefix } });
    });

    app.delete('/dashboard/session', async (c) => {
      requireOrigin(c, publicBaseUrl);
      const id = getCookie(c, SESSION_COOKIE);
      if (id) await store.sessions.delete(hashKey(id));
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.json({ object: 'session', signed_out: true });
    });

    // A GET that signs in: it can only be used once, and only a token from the banner opens it.
    app.get('/dashboard/login/:token', async (c) => {
      const row = await store.sessions.take(hashKey(c.req.param('token')), 'login');
      const session = await live(row);
      if (!row || !session) return c.redirect('/dashboard/sign-in?link=used', 303);
      await start(c, row.role, row.keyId);
      // The newcomer's first stop: upload, see the price, generate.
      return c.redirect('/dashboard/playground', 303);
    });
  }

  /** The session of a page request, or null (no cookie, or one that no longer works). */
  async function current(c: Context): Promise<SessionAuth | null> {
    const id = getCookie(c, SESSION_COOKIE);
    return id ? live(await store.sessions.get(hashKey(id), 'session')) : null;
  }

  return { resolve, routes, current };
}

export type Sessions = ReturnType<typeof createSessions>;
