/**
 * Operations: /healthz, /metrics (Prometheus text), /openapi.json and /docs. The API reference UI
 * (Scalar) is served from its npm package by the gateway itself, so /docs works offline, and its
 * page is allowed to talk to this origin only (CSP).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { AppEnv } from './env.ts';
import type { AppDeps } from './deps.ts';
import { ApiError } from '../errors.ts';
import { openApiDocument } from './openapi.ts';
import type { Metrics } from '../metrics.ts';

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><title>reelroute API</title></head>
<body><div id="api-reference"></div>
<script src="/docs/assets/scalar.js"></script>
<script src="/docs/assets/init.js"></script></body></html>`;

// No default fonts (they come from a CDN); the document from this gateway.
const DOCS_INIT = `Scalar.createApiReference('#api-reference', { url: '/openapi.json', withDefaultFonts: false, hideClientButton: true });\n`;

/** Scalar injects its styles at run time; everything else stays on this origin. */
const DOCS_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const SCALAR_BUNDLE = fileURLToPath(import.meta.resolve('@scalar/api-reference/browser/standalone.js'));
let scalarBundle: Promise<Buffer> | null = null;

export function opsRoutes(app: Hono<AppEnv>, deps: AppDeps, metrics: Metrics): void {
  app.get('/healthz', async (c) => {
    if (!(await deps.ctx.store.ping())) throw new ApiError('internal_error', 'database does not answer');
    return c.json({ status: 'ok' });
  });
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.get('/docs', (c) => c.html(DOCS_HTML, 200, { 'content-security-policy': DOCS_CSP }));
  app.get('/docs/assets/init.js', (c) => c.body(DOCS_INIT, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  app.get('/docs/assets/scalar.js', async (c) => {
    scalarBundle ??= readFile(SCALAR_BUNDLE);
    return c.body(new Uint8Array(await scalarBundle), 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=86400' });
  });
}
