/**
 * createApp(deps): the Hono app. No import-time side effects; tests build as many as they like.
 */
import { Hono } from 'hono';
import { routePath } from 'hono/route';
import type { AppEnv } from './http/env.ts';
import type { AppDeps } from './http/deps.ts';
import { adminAuth, clientAuth, limitBody, notFound, onError, refuseNul, requestId } from './http/middleware.ts';
import { createRoute } from './http/tasks/create.ts';
import { estimateRoute } from './http/tasks/estimate.ts';
import { readRoutes } from './http/tasks/read.ts';
import { cancelRoute } from './http/tasks/cancel.ts';
import { callbackRoutes } from './http/tasks/callbacks.ts';
import { modelRoutes } from './http/models.ts';
import { adminKeyRoutes } from './http/admin/keys.ts';
import { adminProviderRoutes } from './http/admin/providers.ts';
import { adminAuditRoutes } from './http/admin/audit.ts';
import { adminSpendRoutes } from './http/admin/spend.ts';
import { adminTaskRoutes } from './http/admin/tasks.ts';
import { usageRoutes } from './http/usage.ts';
import { adminReconciliationRoutes } from './http/admin/reconciliation.ts';
import { opsRoutes } from './http/ops.ts';
import { webhookRoutes } from './http/webhooks.ts';
import type { Poller } from './tasks/poller.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { rateLimit } from './http/rate-limit.ts';
import { except } from 'hono/combine';
import { fileRoutes } from './http/files/routes.ts';
import { createSessions } from './http/session.ts';
import { dashboardRoutes } from './ui/dashboard.tsx';

export function createApp(deps: AppDeps, poller: Poller, metrics: Metrics = createMetrics()): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requestId());
  app.use('*', async function measure(c, next) {
    const end = metrics.latency.startTimer();
    await next();
    const route = routePath(c);
    end({ route });
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  });
  // Uploads stream under their own limit (files.max_bytes), not the JSON body limit.
  // Provider statements (POST /admin/reconciliation) have their own, larger limit.
  app.use('*', except(['/v1/files', '/admin/reconciliation'], limitBody(deps.ctx.config.server.body_limit_bytes)));
  // Browsers of the dashboard authenticate with a session cookie instead of a bearer key.
  const sessions = createSessions(deps);
  app.use('/v1/*', clientAuth(deps.auth, deps.adminKey, sessions.resolve));
  app.use('/v1/*', rateLimit({ ...deps.ctx.config.server.rate_limit, now: deps.ctx.now }));
  app.use('/admin/*', adminAuth(deps.auth, deps.adminKey, sessions.resolve));
  app.use('*', refuseNul());

  estimateRoute(app, deps);
  createRoute(app, deps);
  readRoutes(app, deps);
  cancelRoute(app, deps);
  callbackRoutes(app, deps);
  modelRoutes(app, deps);
  adminKeyRoutes(app, deps);
  adminProviderRoutes(app, deps);
  adminAuditRoutes(app, deps);
  adminSpendRoutes(app, deps);
  adminTaskRoutes(app, deps);
  usageRoutes(app, deps);
  adminReconciliationRoutes(app, deps);
  opsRoutes(app, deps, metrics);
  webhookRoutes(app, deps, poller);
  fileRoutes(app, deps);
  sessions.routes(app);
  dashboardRoutes(app, sessions);

  app.onError(onError(deps.ctx.log));
  app.notFound(notFound(() => app.routes));
  return app;
}
