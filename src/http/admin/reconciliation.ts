/**
 * POST /admin/reconciliation (CONTRACT §9): a provider's usage statement (CSV body) matched by
 * upstream id with what reelroute recorded for that provider's attempts over a UTC date range.
 *
 * - "Ours" is every attempt sent to the provider and created in the range (by the attempt's own
 *   creation time, which is when the provider saw the create), at what it may bill: the completed
 *   attempt's upstream cost, the quote of one whose outcome is unknown or still running, 0 for a
 *   failed or cancelled one. A statement line naming one of our attempts outside the range is
 *   matched with it all the same (and that attempt counts in ours).
 * - `matched`: ids on both sides with equal amounts; `mismatched`: both sides, different amounts;
 *   `missing_from_statement`: ours with a non-zero amount the statement lacks (a create whose
 *   answer was lost has no upstream id: it is listed with `upstream_id: null`, and its bill shows up
 *   in `unknown_to_us`); `unknown_to_us`: statement ids none of our attempts carries.
 * - `difference_usd = theirs_total_usd − ours_total_usd`, summed in integer micro-USD.
 */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError } from '../../errors.ts';
import { limitBody } from '../middleware.ts';
import { microsToUsd, usdToMicros, type Micros } from '../../pricing/money.ts';
import type { OurAttempt } from '../../db/repos/reconciliation.ts';
import type { ProviderRuntime } from '../../routing/providers.ts';
import { providerById } from '../../tasks/context.ts';
import { parseSpendQuery, queryOf } from './spend.ts';
import { readStatement } from './statement.ts';

const CSV_TYPES = /^(text\/csv|application\/csv|text\/plain)\b/i;
/**
 * The largest statement one call takes (about 300,000 lines): bigger than the JSON body limit, as a
 * month of a busy provider is; beyond it, reconcile the month in shorter ranges.
 */
export const STATEMENT_MAX_BYTES = 16 * 1024 * 1024;
const COLUMN = /^[\w .-]{1,64}$/;

/** The provider's credit price in micro-USD (credit-priced models carry `credit_usd`), or null. */
function creditMicrosOf(provider: ProviderRuntime): number | null {
  for (const m of provider.models.values()) if (m.spec.credit_usd !== undefined) return usdToMicros(m.spec.credit_usd);
  return null;
}

function columnParam(value: string | undefined, param: string, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  if (!COLUMN.test(value)) throw new ApiError('invalid_parameter', `${param}: a column name of at most 64 letters, digits, spaces, _ . -`, { param });
  return value;
}

export function adminReconciliationRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { store, now } = deps.ctx;
  app.post('/admin/reconciliation', limitBody(STATEMENT_MAX_BYTES), async (c) => {
    const providerId = c.req.query('provider');
    if (!providerId) throw new ApiError('missing_parameter', 'provider: required (the id of the provider whose statement this is)', { param: 'provider' });
    const provider = providerById(deps.ctx, providerId);
    if (!provider) throw new ApiError('invalid_parameter', `provider: no provider ${JSON.stringify(providerId.slice(0, 100))}`, { param: 'provider' });
    const q = parseSpendQuery(queryOf(c), now());
    const idColumn = columnParam(c.req.query('id_column'), 'id_column', 'upstream_id');
    const amountColumn = columnParam(c.req.query('amount_column'), 'amount_column', 'amount_usd');
    let creditMicros: number | null = null;
    if (amountColumn === 'amount_credits') {
      creditMicros = creditMicrosOf(provider);
      if (creditMicros === null) throw new ApiError('invalid_parameter', `amount_column: ${provider.id} is not priced in credits (no credit_usd)`, { param: 'amount_column' });
    }
    if (!CSV_TYPES.test(c.req.header('content-type') ?? '')) {
      throw new ApiError('unsupported_media_type', 'the statement must be sent as CSV (content-type: text/csv)');
    }
    const statement = readStatement(await c.req.text(), idColumn, amountColumn, creditMicros);

    const ours = await store.reconciliation.attempts(provider.id, q.fromMs, q.toMs);
    const known = new Set(ours.map((a) => a.upstreamId).filter((id): id is string => id !== null));
    const outside = [...statement.amounts.keys()].filter((id) => !known.has(id));
    ours.push(...(await store.reconciliation.byUpstreamIds(provider.id, outside)));

    // Our side per upstream id (an id seen twice — a lost answer found again — is one bill).
    const byId = new Map<string, { taskId: string; status: string; micros: Micros }>();
    const noId: OurAttempt[] = [];
    let oursTotal = 0;
    for (const a of ours) {
      oursTotal += a.costMicros;
      if (a.upstreamId === null) noId.push(a);
      else {
        const prev = byId.get(a.upstreamId);
        byId.set(a.upstreamId, { taskId: prev?.taskId ?? a.taskId, status: prev?.status ?? a.status, micros: (prev?.micros ?? 0) + a.costMicros });
      }
    }

    let matched = 0;
    let theirsTotal = 0;
    const mismatched: { upstream_id: string; task_id: string; ours_usd: number; theirs_usd: number }[] = [];
    const unknown: { upstream_id: string; theirs_usd: number }[] = [];
    for (const [id, theirs] of statement.amounts) {
      theirsTotal += theirs;
      const mine = byId.get(id);
      if (!mine) unknown.push({ upstream_id: id, theirs_usd: microsToUsd(theirs) });
      else if (mine.micros === theirs) matched++;
      else mismatched.push({ upstream_id: id, task_id: mine.taskId, ours_usd: microsToUsd(mine.micros), theirs_usd: microsToUsd(theirs) });
    }
    const missing: { upstream_id: string | null; task_id: string; ours_usd: number; attempt_status: string }[] = [];
    for (const [id, mine] of byId) {
      if (!statement.amounts.has(id) && mine.micros !== 0) {
        missing.push({ upstream_id: id, task_id: mine.taskId, ours_usd: microsToUsd(mine.micros), attempt_status: mine.status });
      }
    }
    for (const a of noId) {
      if (a.costMicros !== 0) missing.push({ upstream_id: null, task_id: a.taskId, ours_usd: microsToUsd(a.costMicros), attempt_status: a.status });
    }

    return c.json({
      object: 'reconciliation',
      provider: provider.id,
      from: q.from,
      to: q.to,
      statement_lines: statement.lines,
      matched,
      ours_total_usd: microsToUsd(oursTotal),
      theirs_total_usd: microsToUsd(theirsTotal),
      difference_usd: microsToUsd(theirsTotal - oursTotal),
      mismatched,
      missing_from_statement: missing,
      unknown_to_us: unknown,
    });
  });
}
