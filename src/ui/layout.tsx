/** The page frame every dashboard view shares: head (CSP-safe: external script and style only), top bar, main. */
import type { Child } from 'hono/jsx';
import type { SessionAuth } from '../http/session.ts';

/** A view of the dashboard: its path segment, nav label and who may open it. */
export interface ViewInfo {
  path: string;
  label: string;
  roles: readonly SessionAuth['role'][];
}

/** Navigation, in order (CONTRACT §10 fixes the words). */
export const VIEWS: readonly ViewInfo[] = [
  { path: 'spend', label: 'Spend', roles: ['admin'] },
  { path: 'providers', label: 'Providers', roles: ['admin'] },
  { path: 'keys', label: 'Keys', roles: ['admin'] },
  { path: 'tasks', label: 'Tasks', roles: ['admin', 'key'] },
  { path: 'playground', label: 'Playground', roles: ['admin', 'key'] },
  { path: 'usage', label: 'Usage', roles: ['key'] },
];

export interface LayoutProps {
  title: string;
  session: SessionAuth | null;
  current?: string;
  /** Module under assets/views/ that drives the page. */
  script?: string;
  /** Load Chart.js (Spend, Usage). */
  chart?: boolean;
  children?: Child;
}

export function Layout(props: LayoutProps) {
  const { session } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · reelroute`}</title>
        <link rel="icon" href="/dashboard/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/dashboard/assets/app.css" />
        {props.chart && <script src="/dashboard/assets/vendor/chart.umd.min.js" defer></script>}
        {session && <script type="module" src="/dashboard/assets/shell.js"></script>}
        {props.script && <script type="module" src={`/dashboard/assets/views/${props.script}.js`}></script>}
      </head>
      <body data-role={session?.role ?? ''}>
        <header class="topbar">
          <a class="brand" href="/dashboard">
            reel<span>route</span>
          </a>
          {session && (
            <nav class="nav" aria-label="Main">
              {VIEWS.filter((v) => v.roles.includes(session.role)).map((v) => (
                <a href={`/dashboard/${v.path}`} aria-current={v.path === props.current ? 'page' : undefined}>
                  {v.label}
                </a>
              ))}
            </nav>
          )}
          {session && (
            <div class="who">
              <span class="badge">{session.role === 'admin' ? 'admin' : `key ${session.key?.name ?? ''}`}</span>
              <button type="button" class="secondary" id="sign-out">
                Sign out
              </button>
            </div>
          )}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** A page heading with an optional right-hand control area. */
export function PageHead(props: { title: string; sub?: string; children?: Child }) {
  return (
    <div class="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.sub && <p class="muted">{props.sub}</p>}
      </div>
      {props.children}
    </div>
  );
}

/** The page's error line: empty (hidden) until a script puts words in it. */
export const Alert = (props: { id?: string }) => <div role="alert" class="alert" id={props.id ?? 'error'}></div>;
