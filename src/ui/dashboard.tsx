/**
 * GET /dashboard (CONTRACT §10): server-rendered page shells (hono/jsx) whose small ES modules read
 * the gateway over its public and admin HTTP API with the session cookie, like any other client.
 * This room never imports the database or the engine.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { compress } from 'hono/compress';
import type { AppEnv } from '../http/env.ts';
import type { Sessions, SessionAuth } from '../http/session.ts';
import { serveAsset } from './assets.ts';
import { Layout, VIEWS } from './layout.tsx';
import { SignInView } from './views/sign-in.tsx';
import { SpendView } from './views/spend.tsx';
import { ProvidersView } from './views/providers.tsx';
import { KeysView } from './views/keys.tsx';
import { TasksView } from './views/tasks.tsx';
import { PlaygroundView } from './views/playground.tsx';
import { UsageView } from './views/usage.tsx';

/**
 * Only our own files; media may also come from an upstream's URL when a result is not mirrored,
 * and uploads preview from blob: URLs before they are sent.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: https: http://127.0.0.1:* http://localhost:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const PAGES = {
  spend: { title: 'Spend', body: SpendView, chart: true },
  providers: { title: 'Providers', body: ProvidersView, chart: false },
  keys: { title: 'Keys', body: KeysView, chart: false },
  tasks: { title: 'Tasks', body: TasksView, chart: false },
  playground: { title: 'Playground', body: PlaygroundView, chart: false },
  usage: { title: 'Usage', body: UsageView, chart: true },
} as const;

function securityHeaders(): MiddlewareHandler<AppEnv> {
  return async function dashboardHeaders(c, next) {
    await next();
    c.header('content-security-policy', DASHBOARD_CSP);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'same-origin');
    if ((c.res.headers.get('content-type') ?? '').startsWith('text/html')) c.header('cache-control', 'no-store');
  };
}

const home = (s: SessionAuth) => (s.role === 'admin' ? '/dashboard/spend' : '/dashboard/playground');

/** Mount the dashboard pages and assets. */
export function dashboardRoutes(app: Hono<AppEnv>, sessions: Sessions): void {
  app.use('/dashboard', securityHeaders());
  app.use('/dashboard/*', securityHeaders());

  app.get('/dashboard', async (c) => {
    const s = await sessions.current(c);
    return c.redirect(s ? home(s) : '/dashboard/sign-in', 303);
  });

  app.get('/dashboard/sign-in', async (c) => {
    const s = await sessions.current(c);
    if (s) return c.redirect(home(s), 303);
    return c.html(
      <Layout title="Sign in" session={null} script="sign-in">
        <SignInView linkUsed={c.req.query('link') === 'used'} />
      </Layout>,
    );
  });

  // Chart.js is 210 KB as shipped; gzip brings it to about 70 KB.
  app.use('/dashboard/assets/*', compress());
  app.get('/dashboard/assets/*', (c) => serveAsset(c, c.req.path.slice('/dashboard/assets/'.length)));

  app.get('/dashboard/:view{[a-z]+}', async (c: Context<AppEnv>) => {
    const name = c.req.param('view') as keyof typeof PAGES;
    const page = PAGES[name];
    const view = VIEWS.find((v) => v.path === name);
    if (!page || !view) return c.notFound();
    const s = await sessions.current(c);
    if (!s) return c.redirect(`/dashboard/sign-in?next=${encodeURIComponent(c.req.path)}`, 303);
    if (!view.roles.includes(s.role)) {
      // An API key's session never gets an admin view (and the admin API refuses it anyway).
      return c.html(
        <Layout title={page.title} session={s}>
          <section class="panel">
            <h1>{page.title}</h1>
            <div role="alert" class="alert">
              {s.role === 'key' ? `${page.title} is for the admin key. This session is signed in with an API key.` : `${page.title} is for API-key sessions; the admin sees Spend instead.`}
            </div>
          </section>
        </Layout>,
        403,
      );
    }
    const Body = page.body;
    return c.html(
      <Layout title={page.title} session={s} current={name} script={name} chart={page.chart}>
        <Body />
      </Layout>,
    );
  });
}

