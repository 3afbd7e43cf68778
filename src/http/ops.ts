/** Operations: /healthz, /metrics (Prometheus text), /openapi.json and /docs. */
import type { Hono } from 'hono';
import type { AppEnv } from './env.ts';
import type { AppDeps } from './deps.ts';
import { ApiError } from '../errors.ts';
import { openApiDocument } from './openapi.ts';
import type { Metrics } from '../metrics.ts';

const DOCS_HTML = `<!doctype html>
<html><head><title>reelroute API</title><meta charset="utf-8"/></head>
<body><script id="api-reference" data-url="/openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script></body></html>`;

export function opsRoutes(app: Hono<AppEnv>, deps: AppDeps, metrics: Metrics): void {
  app.get('/healthz', (c) => {
    if (!deps.ctx.store.ping()) throw new ApiError('internal_error', 'database does not answer');
    return c.json({ status: 'ok' });
  });
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  app.get('/docs', (c) => c.html(DOCS_HTML));
}
