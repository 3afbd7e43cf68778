/**
 * A spend report as people read it: the JSON answer and the CSV lines of `/admin/spend` and
 * `/v1/usage`. Money is integer micro-USD until here; JSON shows USD numbers (at most 6 decimals),
 * CSV plain decimals. Pure functions, so the report worker thread and the in-process fallback
 * render byte-for-byte the same.
 */
import type { SpendDimension, SpendMetrics, SpendReport, SpendRow } from '../db/repos/spend.ts';
import { Money, type CsvValue } from '../http/csv.ts';
import { microsToUsd, type Micros } from '../pricing/money.ts';

/** Output columns per dimension (JSON fields and CSV headers). */
const DIMENSION_COLUMNS: Record<SpendDimension, [column: string, get: (r: SpendRow) => string | null][]> = {
  day: [['day', (r) => r.day ?? null]],
  key: [
    ['key_id', (r) => r.keyId ?? null],
    ['key_name', (r) => r.keyName ?? null],
  ],
  model: [['model', (r) => r.model ?? null]],
  provider: [['provider', (r) => r.provider ?? null]],
};

/** Metric columns in order: counts, then money (micro-USD inside, USD at the edge). */
const METRIC_COLUMNS: [column: string, get: (m: SpendMetrics) => number, money: boolean][] = [
  ['tasks', (m) => m.tasks, false],
  ['completed', (m) => m.completed, false],
  ['failed', (m) => m.failed, false],
  ['cancelled', (m) => m.cancelled, false],
  ['billable_units', (m) => m.billableUnits, false],
  ['reserved_usd', (m) => m.reservedMicros, true],
  ['charged_usd', (m) => m.chargedMicros, true],
  ['refunded_usd', (m) => m.refundedMicros, true],
  ['upstream_cost_usd', (m) => m.upstreamCostMicros, true],
  ['margin_usd', (m) => m.chargedMicros - m.upstreamCostMicros, true],
];
/** What an API key must never see: what the provider charged, and so the margin. */
const OPERATOR_ONLY = new Set(['upstream_cost_usd', 'margin_usd']);

/** Who reads the report: the admin sees every column, a client key not the operator's costs. */
export type Audience = 'admin' | 'client';

const COLUMNS_FOR: Record<Audience, typeof METRIC_COLUMNS> = {
  admin: METRIC_COLUMNS,
  client: METRIC_COLUMNS.filter(([c]) => !OPERATOR_ONLY.has(c)),
};
const metricColumns = (audience: Audience) => COLUMNS_FOR[audience];

function metricsInto(out: Record<string, string | number | null>, m: SpendMetrics, audience: Audience): Record<string, string | number | null> {
  for (const [c, get, money] of COLUMNS_FOR[audience]) out[c] = money ? microsToUsd(get(m) as Micros) : get(m);
  return out;
}

const metricsView = (m: SpendMetrics, audience: Audience) => metricsInto({}, m, audience);

function rowView(row: SpendRow, groupBy: readonly SpendDimension[], audience: Audience): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const d of groupBy) for (const [column, get] of DIMENSION_COLUMNS[d]) out[column] = get(row);
  return metricsInto(out, row, audience);
}

/**
 * The CSV lines: a header (group columns, then metric columns), one line per row, then a `total`
 * line whose first group column says `total` and the other group columns are empty. Without
 * group_by the report has a single `group` column, so the total line still says `total`.
 */
export function* csvLines(report: SpendReport, groupBy: readonly SpendDimension[], audience: Audience): Generator<CsvValue[]> {
  const groupColumns = groupBy.flatMap((d) => DIMENSION_COLUMNS[d]);
  const labels = groupColumns.length ? groupColumns.map(([c]) => c) : ['group'];
  const metrics = metricColumns(audience);
  const values = (m: SpendMetrics) => metrics.map(([, get, money]) => (money ? new Money(get(m)) : get(m)));
  yield [...labels, ...metrics.map(([c]) => c)];
  for (const row of report.rows) yield [...groupColumns.map(([, get]) => get(row)), ...values(row)];
  yield ['total', ...labels.slice(1).map(() => null), ...values(report.totals)];
}

/** What a report answer says besides its rows: the query as understood. */
export interface ReportHead {
  object: string;
  from: string;
  to: string;
  groupBy: SpendDimension[];
}

/** The JSON answer's text. */
export function reportJson(head: ReportHead, report: SpendReport, audience: Audience): string {
  return JSON.stringify({
    object: head.object,
    from: head.from,
    to: head.to,
    group_by: head.groupBy,
    data: report.rows.map((r) => rowView(r, head.groupBy, audience)),
    totals: metricsView(report.totals, audience),
  });
}
