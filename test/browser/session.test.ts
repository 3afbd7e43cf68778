/**
 * Dashboard sessions over plain HTTP (CONTRACT §10): the cookie's flags, Origin checks on every
 * state-changing call (sign-in included), expiry, sign-out, revocation, one-time login links,
 * admin/API-key separation, and the CSP of the pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startGateway, type Gateway } from '../helpers/gateway.ts';
import { hashKey } from '../../src/keys/keys.ts';
import { issueLoginToken, SESSION_TTL_MS } from '../../src/http/session.ts';

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway({ providers: [{ id: 'fal-1', type: 'fal' }] });
});
afterAll(() => gw.close());

async function send(path: string, init: { method?: string; cookie?: string; origin?: string | null; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = `rr_session=${init.cookie}`;
  const origin = init.origin === undefined ? gw.url : init.origin;
  if (origin) headers.origin = origin;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(gw.url + path, { method: init.method ?? 'GET', headers, redirect: 'manual', ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* html */
  }
  return { status: res.status, body, headers: res.headers };
}

/** Sign in and return the cookie value. */
async function signIn(key: string): Promise<string> {
  const res = await send('/dashboard/session', { method: 'POST', body: { key } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return /rr_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!;
}

describe('dashboard sessions', () => {
  it('sign-in sets an HttpOnly SameSite=Strict cookie whose id is stored only hashed', async () => {
    const { key } = await gw.createKey({ name: 'app' });
    const res = await send('/dashboard/session', { method: 'POST', body: { key } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ role: 'key' });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);
    const id = /rr_session=([^;]+)/.exec(cookie)![1]!;
    expect(id.length).toBeGreaterThanOrEqual(43);
    expect((await gw.store.sessions.get(hashKey(id), 'session'))).toMatchObject({ role: 'key', purpose: 'session' });
    expect((await gw.store.sessions.get(id, 'session'))).toBeUndefined();
  });

  it('refuses sign-in with a missing or foreign Origin, and a bad key', async () => {
    const { key } = await gw.createKey({ name: 'app' });
    for (const origin of [null, 'http://evil.example']) {
      const res = await send('/dashboard/session', { method: 'POST', origin, body: { key } });
      expect(res.status).toBe(403);
      expect(res.body.error.type).toBe('permission_error');
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    const bad = await send('/dashboard/session', { method: 'POST', body: { key: 'rr_nope' } });
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toMatch(/not valid/);
  });

  it('an API-key session uses /v1 like its key, never /admin, and state changes need our Origin', async () => {
    const { key } = await gw.createKey({ name: 'app' });
    const cookie = await signIn(key);
    expect((await send('/v1/tasks', { cookie })).status).toBe(200);
    for (const path of ['/admin/keys', '/admin/spend', '/admin/tasks']) {
      const res = await send(path, { cookie });
      expect(res.status, path).toBe(403);
      expect(res.body.error.type).toBe('permission_error');
    }
    const estimate = (origin?: string | null) => send('/v1/videos/generations/estimate', { method: 'POST', cookie, origin, body: gw.motion(5) });
    expect((await estimate(null)).status).toBe(403);
    expect((await estimate('http://evil.example')).status).toBe(403);
    expect((await estimate()).status).toBe(200);
    const page = await send('/dashboard/keys', { cookie });
    expect(page.status).toBe(403);
    expect(page.body).toMatch(/role="alert"/);
  });

  it('an admin session reaches /admin and runs the Playground on its own key', async () => {
    const cookie = await signIn(ADMIN_KEY);
    expect((await send('/admin/keys', { cookie })).status).toBe(200);
    const task = await send('/v1/videos/generations', { method: 'POST', cookie, body: gw.motion(5) });
    expect(task.status).toBe(200);
    const keys = (await send('/admin/keys', { cookie })).body.data;
    const playground = keys.find((k: { name: string }) => k.name === 'dashboard playground');
    expect(playground).toBeDefined();
    const admin = await send(`/admin/tasks/${task.body.id}`, { cookie });
    expect(admin.body.key_id).toBe(playground.id);
    expect((await send('/admin/keys', { method: 'POST', cookie, origin: null, body: { name: 'x' } })).status).toBe(403);
  });

  it('ends at sign-out, on revocation and at expiry', async () => {
    const { id, key } = (await gw.createKey({ name: 'app' })) as { id: string; key: string };
    const a = await signIn(key);
    const out = await send('/dashboard/session', { method: 'DELETE', cookie: a });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/rr_session=;/);
    expect((await send('/v1/tasks', { cookie: a })).status).toBe(401);

    const b = await signIn(key);
    expect((await gw.call('DELETE', `/admin/keys/${id}`, { key: ADMIN_KEY })).status).toBe(200);
    expect((await send('/v1/tasks', { cookie: b })).status).toBe(401);

    const c = await signIn(ADMIN_KEY);
    gw.advance(SESSION_TTL_MS - 1_000);
    expect((await send('/admin/keys', { cookie: c })).status).toBe(200);
    gw.advance(2_000);
    const expired = await send('/admin/keys', { cookie: c });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/sign in again/);
    expect((await send('/dashboard/spend', { cookie: c })).headers.get('location')).toMatch(/\/dashboard\/sign-in/);
  });

  it('a one-time login link signs in once, then stops working', async () => {
    const token = await issueLoginToken(gw.store, { role: 'admin', adminKey: ADMIN_KEY }, gw.now());
    const first = await send(`/dashboard/login/${token}`, { origin: null });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/dashboard/playground');
    const cookie = /rr_session=([^;]+)/.exec(first.headers.get('set-cookie') ?? '')![1]!;
    expect((await send('/admin/keys', { cookie })).status).toBe(200);
    const again = await send(`/dashboard/login/${token}`, { origin: null });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/dashboard/sign-in?link=used');
    expect(again.headers.get('set-cookie')).toBeNull();
  });

  it('a login token is never a session cookie: sent as rr_session it is refused and stays unused', async () => {
    const token = await issueLoginToken(gw.store, { role: 'admin', adminKey: ADMIN_KEY }, gw.now());
    expect((await send('/admin/keys', { cookie: token })).status).toBe(401);
    expect((await send('/admin/keys', { method: 'POST', cookie: token, body: { name: 'sneaky' } })).status).toBe(401);
    const real = await send(`/dashboard/login/${token}`, { origin: null });
    expect(real.headers.get('location')).toBe('/dashboard/playground');
  });

  it('pages carry a default-src self CSP and no inline script or style', async () => {
    const cookie = await signIn(ADMIN_KEY);
    for (const view of ['spend', 'providers', 'keys', 'tasks', 'playground']) {
      const res = await send(`/dashboard/${view}`, { cookie });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
      const html = res.body as string;
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/\sstyle=|\son[a-z]+=/);
    }
    const signInPage = await send('/dashboard/sign-in');
    expect(signInPage.body).toMatch(/<label for="key">API key<\/label>/);
  });
});
