/**
 * /openapi.json validates as OpenAPI 3.1 (a maintained validator) and lists every route the app
 * serves; /docs serves its reference UI from this package, with no third-party origin.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.ts';

let gw: Gateway;
let doc: { openapi: string; paths: Record<string, Record<string, unknown>> };

beforeAll(async () => {
  gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal' }] });
  const res = await fetch(`${gw.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as typeof doc;
});
afterAll(async () => {
  await gw.close();
});

it('validates as OpenAPI 3.1', async () => {
  const validator = new Validator();
  const result = await validator.validate(doc as Parameters<Validator["validate"]>[0]);
  expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 2000)).toEqual([]);
  expect(result.valid).toBe(true);
  expect(validator.version).toBe('3.1');
});

it("lists every route in the app's own route table", () => {
  const served = gw.runtime.app.routes
    .filter((r) => r.method !== 'ALL')
    // The dashboard's pages and the reference UI's assets are a UI, not API routes.
    .filter((r) => !r.path.startsWith('/dashboard') && !r.path.startsWith('/docs/assets/'))
    .map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:([a-z_]+)(\{[^}]*\})?/gi, '{$1}') }));
  expect(served.length).toBeGreaterThan(30);
  const missing = served.filter((r) => doc.paths[r.path]?.[r.method] === undefined).map((r) => `${r.method} ${r.path}`);
  expect(missing).toEqual([]);
  // And nothing documented that the app does not serve.
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
  const servedSet = new Set(served.map((r) => `${r.method} ${r.path}`));
  expect(documented.filter((d) => !servedSet.has(d))).toEqual([]);
});

it('documents the route preferences on create and the key default', () => {
  const create = JSON.stringify(doc.paths['/v1/videos/generations']);
  expect(create).toContain('max_cost_usd');
  expect(JSON.stringify(doc.paths['/admin/keys/{id}'])).toContain('allow_fallbacks');
});

it('/docs works offline: its UI comes from this gateway, under a same-origin CSP', async () => {
  const page = await fetch(`${gw.url}/docs`);
  expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
  const html = await page.text();
  const external = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => !u.startsWith('/'));
  expect(external).toEqual([]);
  const init = await (await fetch(`${gw.url}/docs/assets/init.js`)).text();
  expect(init).toContain("url: '/openapi.json'");
  const bundle = await fetch(`${gw.url}/docs/assets/scalar.js`);
  expect(bundle.status).toBe(200);
  expect(bundle.headers.get('content-type')).toContain('javascript');
  expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
});
