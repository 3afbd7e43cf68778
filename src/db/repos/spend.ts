/**
 * Spend reports (`GET /admin/spend`, `GET /v1/usage`): task counts and money summed over a range of
 * UTC creation days, grouped by any ordered subset of {@link SPEND_DIMENSIONS}.
 *
 * Reports read the `spend_daily` rollup (kept exact by triggers on `tasks`, in the same transaction
 * as every task change), so their cost follows the number of day × key × model × provider groups,
 * not the number of tasks. {@link plainSpendSql} is the same report as a plain GROUP BY over the
 * tasks — the reference the tests and the bench compare the rollup with.
 *
 * SQL is built only from the whitelisted column expressions below — never from user input — and
 * one prepared statement is cached per ordered dimension list and key filter.
 */
import type Database from 'better-sqlite3';
import type { Micros } from '../../pricing/money.ts';

export const SPEND_DIMENSIONS = ['day', 'key', 'model', 'provider'] as const;
export type SpendDimension = (typeof SPEND_DIMENSIONS)[number];

/** The sums of one group (or of the whole range); money in integer micro-USD. */
export interface SpendMetrics {
  tasks: number;
  completed: number;
  failed: number;
  cancelled: number;
  billableUnits: number;
  reservedMicros: Micros;
  chargedMicros: Micros;
  refundedMicros: Micros;
  upstreamCostMicros: Micros;
}

/** One group: the fields of its dimensions (only those grouped by are set) and its sums. */
export interface SpendRow extends SpendMetrics {
  /** UTC day of the tasks' creation, YYYY-MM-DD. */
  day?: string;
  keyId?: string;
  keyName?: string | null;
  model?: string;
  /** The provider that ran (or last ran) the tasks; null when none did. */
  provider?: string | null;
}

export interface SpendReport {
  /** Ordered by the group columns, in the order grouped by; empty when not grouped. */
  rows: SpendRow[];
  totals: SpendMetrics;
}

/** A report's selection: UTC days (YYYY-MM-DD, both inclusive), and optionally one key. */
export interface SpendRange {
  from: string;
  to: string;
  keyId?: string;
}

export const METRIC_KEYS = [
  'tasks',
  'completed',
  'failed',
  'cancelled',
  'billableUnits',
  'reservedMicros',
  'chargedMicros',
  'refundedMicros',
  'upstreamCostMicros',
] as const satisfies readonly (keyof SpendMetrics)[];

export const zeroMetrics = (): SpendMetrics => ({
  tasks: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
  billableUnits: 0,
  reservedMicros: 0,
  chargedMicros: 0,
  refundedMicros: 0,
  upstreamCostMicros: 0,
});

/** Whitelisted SQL per dimension over the rollup `r` (and keys `k`): selected columns and sort order. */
const ROLLUP_DIMENSIONS: Record<SpendDimension, { select: [expr: string, alias: string][]; group?: string[]; order: string[]; joinKeys?: true }> = {
  day: { select: [['r."day"', 'day']], order: ['"day"'] },
  key: {
    select: [
      ['r."key_id"', 'keyId'],
      ['k."name"', 'keyName'],
    ],
    // Grouped in the order rows are sorted, so SQLite sorts once instead of twice.
    group: ['k."name"', 'r."key_id"'],
    // Humans read these: by name, the id breaking ties between keys of the same name.
    order: ['"keyName"', '"keyId"'],
    joinKeys: true,
  },
  model: { select: [['r."model"', 'model']], order: ['"model"'] },
  // '' in the rollup means no provider ran the tasks; reports say null, as the task object does.
  provider: { select: [[`NULLIF(r."provider", '')`, 'provider']], order: ['"provider"'] },
};

const ROLLUP_METRICS = [
  'SUM(r."tasks") AS "tasks"',
  'SUM(r."completed") AS "completed"',
  'SUM(r."failed") AS "failed"',
  'SUM(r."cancelled") AS "cancelled"',
  'SUM(r."billable_units") AS "billableUnits"',
  'SUM(r."reserved_micros") AS "reservedMicros"',
  'SUM(r."charged_micros") AS "chargedMicros"',
  'SUM(r."refunded_micros") AS "refundedMicros"',
  'SUM(r."upstream_cost_micros") AS "upstreamCostMicros"',
].join(', ');

function dimensionsOf(groupBy: readonly SpendDimension[]) {
  return groupBy.map((d) => {
    const sql = ROLLUP_DIMENSIONS[d];
    if (!sql) throw new Error(`unknown spend dimension ${String(d)}`);
    return sql;
  });
}

/** The rollup statement; parameters: from day, to day (inclusive) and, with `byKey`, the key id. */
export function spendSql(groupBy: readonly SpendDimension[], byKey = false): string {
  const dims = dimensionsOf(groupBy);
  const select = dims.flatMap((d) => d.select.map(([expr, alias]) => `${expr} AS "${alias}"`));
  const group = dims.flatMap((d) => d.group ?? d.select.map(([expr]) => expr));
  const order = dims.flatMap((d) => d.order);
  return [
    `SELECT ${[...select, ROLLUP_METRICS].join(', ')} FROM "spend_daily" r`,
    dims.some((d) => d.joinKeys) ? 'LEFT JOIN "api_keys" k ON k."id" = r."key_id"' : '',
    `WHERE r."day" >= ? AND r."day" <= ?${byKey ? ' AND r."key_id" = ?' : ''}`,
    // Groups whose tasks all moved elsewhere (failover changes a task's provider) sum to zero tasks.
    group.length ? `GROUP BY ${group.join(', ')} HAVING SUM(r."tasks") > 0 ORDER BY ${order.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * The same report as a plain GROUP BY over every task of the range (parameters: from ms inclusive,
 * to ms exclusive). Not used by the API: the tests check the rollup against it, the bench times both.
 */
export function plainSpendSql(groupBy: readonly SpendDimension[]): string {
  const expr: Record<SpendDimension, [string, string][]> = {
    day: [[`strftime('%Y-%m-%d', t."created_at" / 1000, 'unixepoch')`, 'day']],
    key: [
      ['t."key_id"', 'keyId'],
      ['k."name"', 'keyName'],
    ],
    model: [['t."model"', 'model']],
    provider: [['t."provider"', 'provider']],
  };
  const select = groupBy.flatMap((d) => expr[d].map(([e, a]) => `${e} AS "${a}"`));
  const group = groupBy.flatMap((d) => expr[d].map(([e]) => e));
  const metrics = [
    'COUNT(*) AS "tasks"',
    `COALESCE(SUM(t."status" = 'completed'), 0) AS "completed"`,
    `COALESCE(SUM(t."status" = 'failed'), 0) AS "failed"`,
    `COALESCE(SUM(t."status" = 'cancelled'), 0) AS "cancelled"`,
    'COALESCE(SUM(t."billable_units"), 0) AS "billableUnits"',
    'COALESCE(SUM(t."reserved_micros"), 0) AS "reservedMicros"',
    'COALESCE(SUM(t."charged_micros"), 0) AS "chargedMicros"',
    'COALESCE(SUM(t."refunded_micros"), 0) AS "refundedMicros"',
    'COALESCE(SUM(t."upstream_cost_micros"), 0) AS "upstreamCostMicros"',
  ];
  return [
    `SELECT ${[...select, ...metrics].join(', ')} FROM "tasks" t`,
    groupBy.includes('key') ? 'LEFT JOIN "api_keys" k ON k."id" = t."key_id"' : '',
    'WHERE t."created_at" >= ? AND t."created_at" < ?',
    group.length ? `GROUP BY ${group.join(', ')} ORDER BY ${dimensionsOf(groupBy).flatMap((d) => d.order).join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Add a row's sums into `totals` (integers: exact). */
export function addMetrics(totals: SpendMetrics, row: SpendMetrics): void {
  for (const k of METRIC_KEYS) totals[k] += row[k];
}

export function spendRepo(sqlite: Database.Database) {
  const cache = new Map<string, Database.Statement>();
  const statement = (groupBy: readonly SpendDimension[], byKey: boolean) => {
    const id = `${groupBy.join(',')}|${byKey}`;
    let stmt = cache.get(id);
    if (!stmt) {
      stmt = sqlite.prepare(spendSql(groupBy, byKey));
      cache.set(id, stmt);
    }
    return stmt;
  };
  const params = (r: SpendRange) => (r.keyId === undefined ? [r.from, r.to] : [r.from, r.to, r.keyId]);
  const totalsOf = (r: SpendRange): SpendMetrics => {
    const row = statement([], r.keyId !== undefined).get(...params(r)) as Record<keyof SpendMetrics, number | null>;
    const out = zeroMetrics();
    for (const k of METRIC_KEYS) out[k] = row[k] ?? 0;
    return out;
  };

  return {
    /**
     * Tasks created on the days of `range`, grouped by `groupBy` (ordered, no duplicates). One
     * statement, so rows and totals come from one snapshot; totals are the exact integer sums of the rows.
     */
    report(range: SpendRange, groupBy: readonly SpendDimension[]): SpendReport {
      if (groupBy.length === 0) return { rows: [], totals: totalsOf(range) };
      const rows = statement(groupBy, range.keyId !== undefined).all(...params(range)) as SpendRow[];
      const totals = zeroMetrics();
      for (const row of rows) addMetrics(totals, row);
      return { rows, totals };
    },
  };
}

export type SpendRepo = ReturnType<typeof spendRepo>;
