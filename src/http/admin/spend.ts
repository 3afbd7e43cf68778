/**
 * GET /admin/spend (CONTRACT §5, §9): what tasks created in a UTC date range reserved, charged,
 * refunded, cost upstream and earned (margin), grouped by any of day, key, model, provider; JSON or
 * CSV. The query and the rendering are shared with the client's `GET /v1/usage`, which leaves out
 * the upstream cost and the margin. A task counts on its UTC creation day; later refunds stay there.
 */
import type { Context, Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../../errors.ts';
import { SPEND_DIMENSIONS, type SpendDimension, type SpendRange } from '../../db/repos/spend.ts';
import type { Audience } from '../../reports/render.ts';

const DAY_MS = 86_400_000;
/** The longest range one report covers, in days (both ends inclusive). */
export const MAX_SPEND_DAYS = 366;
const FORMATS = ['json', 'csv'] as const;
type Format = (typeof FORMATS)[number];

export interface SpendQuery {
  from: string;
  to: string;
  fromMs: number;
  /** Exclusive: the start of the day after `to`. */
  toMs: number;
  groupBy: SpendDimension[];
  format: Format;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** YYYY-MM-DD (a real calendar date) → ms at 00:00 UTC, or a 400 naming `param`. */
function parseDay(value: string, param: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // The round trip rejects 2026-02-30, month 13 and years Date.UTC would remap (0000–0099).
  if (!m || Number.isNaN(ms) || isoDay(ms) !== value) {
    throw new ApiError('invalid_parameter', `${param}: expected a UTC date YYYY-MM-DD, got ${JSON.stringify(value.slice(0, 40))}`, { param });
  }
  return ms;
}

/**
 * The query of `GET /admin/spend`:
 * - `from`, `to`: UTC dates (YYYY-MM-DD), both inclusive, selecting tasks by creation time. `to`
 *   defaults to today (UTC), `from` to the first day of `to`'s month. `from` after `to`, or a range
 *   over {@link MAX_SPEND_DAYS} days, is a 400 on `to`.
 * - `group_by`: comma-separated (or repeated) subset of day, key, model, provider, in any order;
 *   rows keep that order in their fields and their sort. Absent or empty: totals only (`data: []`).
 *   Unknown or repeated dimensions are a 400.
 * - `format`: `json` (default) or `csv`.
 * Other query parameters are ignored (as on `GET /v1/tasks`).
 */
export function parseSpendQuery(q: { param(name: string): string | undefined; all(name: string): string[] }, now: number): SpendQuery {
  const toRaw = q.param('to');
  const fromRaw = q.param('from');
  const toMs = toRaw === undefined ? now - (now % DAY_MS) : parseDay(toRaw, 'to');
  const fromMs = fromRaw === undefined ? Date.UTC(new Date(toMs).getUTCFullYear(), new Date(toMs).getUTCMonth(), 1) : parseDay(fromRaw, 'from');
  const from = isoDay(fromMs);
  const to = isoDay(toMs);
  if (fromMs > toMs) {
    throw new ApiError('invalid_parameter', `to (${to}${toRaw === undefined ? ', today' : ''}) is before from (${from})`, { param: 'to' });
  }
  const days = (toMs - fromMs) / DAY_MS + 1;
  if (days > MAX_SPEND_DAYS) {
    throw new ApiError('invalid_parameter', `from ${from} to ${to} spans ${days} days; at most ${MAX_SPEND_DAYS} per report`, { param: 'to' });
  }

  const groupBy: SpendDimension[] = [];
  const parts = q.all('group_by').flatMap((v) => (v === '' ? [] : v.split(',')));
  for (const raw of parts) {
    const dim = raw.trim();
    if (!(SPEND_DIMENSIONS as readonly string[]).includes(dim)) {
      throw new ApiError('invalid_parameter', `group_by: unknown dimension ${JSON.stringify(dim.slice(0, 40))}; use any of ${SPEND_DIMENSIONS.join(', ')}`, {
        param: 'group_by',
      });
    }
    if (groupBy.includes(dim as SpendDimension)) throw new ApiError('invalid_parameter', `group_by: ${dim} is given twice`, { param: 'group_by' });
    groupBy.push(dim as SpendDimension);
  }

  const formatRaw = q.param('format') ?? 'json';
  if (!(FORMATS as readonly string[]).includes(formatRaw)) {
    throw new ApiError('invalid_parameter', `format: expected json or csv, got ${JSON.stringify(formatRaw.slice(0, 40))}`, { param: 'format' });
  }
  return { from, to, fromMs, toMs: toMs + DAY_MS, groupBy, format: formatRaw as Format };
}

/** Answer a report as JSON or streamed CSV, made off the event loop; `name` prefixes the CSV's file name. */
export async function sendSpendReport(c: Context<AppEnv>, deps: AppDeps, q: SpendQuery, range: SpendRange, audience: Audience, name: string, object: string): Promise<Response> {
  const job = { range, audience, head: { object, from: q.from, to: q.to, groupBy: q.groupBy } };
  if (q.format === 'csv') {
    return c.body(deps.ctx.store.reports.csv(job), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${name}_${q.from}_${q.to}.csv"`,
    });
  }
  return c.body(await deps.ctx.store.reports.json(job), 200, { 'content-type': 'application/json' });
}

/** The query parameters of a request, as {@link parseSpendQuery} reads them. */
export const queryOf = (c: Context<AppEnv>) => ({ param: (n: string) => c.req.query(n), all: (n: string) => c.req.queries(n) ?? [] });

export function adminSpendRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { now } = deps.ctx;
  app.get('/admin/spend', (c) => {
    const q = parseSpendQuery(queryOf(c), now());
    return sendSpendReport(c, deps, q, { from: q.from, to: q.to }, 'admin', 'spend', 'spend_report');
  });
}
