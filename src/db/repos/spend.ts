/**
 * Spend reports (`GET /admin/spend`): task counts and money summed in SQL over a creation-time
 * range (the `tasks_created` index), grouped by any ordered subset of {@link SPEND_DIMENSIONS}.
 *
 * SQL is built only from the whitelisted column expressions below — never from user input — and
 * one prepared statement is cached per ordered dimension list (at most 65 of them).
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

/** Whitelisted SQL per dimension: selected columns (expression → alias) and the sort order. */
const DIMENSION_SQL: Record<SpendDimension, { select: [expr: string, alias: string][]; order: string[]; joinKeys?: true }> = {
  day: { select: [[`strftime('%Y-%m-%d', t."created_at" / 1000, 'unixepoch')`, 'day']], order: ['"day"'] },
  key: {
    select: [
      ['t."key_id"', 'keyId'],
      ['k."name"', 'keyName'],
    ],
    // Humans read these: by name, the id breaking ties between keys of the same name.
    order: ['"keyName"', '"keyId"'],
    joinKeys: true,
  },
  model: { select: [['t."model"', 'model']], order: ['"model"'] },
  provider: { select: [['t."provider"', 'provider']], order: ['"provider"'] },
};

const METRICS_SQL = [
  'COUNT(*) AS "tasks"',
  `COALESCE(SUM(t."status" = 'completed'), 0) AS "completed"`,
  `COALESCE(SUM(t."status" = 'failed'), 0) AS "failed"`,
  `COALESCE(SUM(t."status" = 'cancelled'), 0) AS "cancelled"`,
  'COALESCE(SUM(t."billable_units"), 0) AS "billableUnits"',
  'COALESCE(SUM(t."reserved_micros"), 0) AS "reservedMicros"',
  'COALESCE(SUM(t."charged_micros"), 0) AS "chargedMicros"',
  'COALESCE(SUM(t."refunded_micros"), 0) AS "refundedMicros"',
  'COALESCE(SUM(t."upstream_cost_micros"), 0) AS "upstreamCostMicros"',
].join(', ');

const METRIC_KEYS = [
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

const zero = (): SpendMetrics => ({
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

/** The statement for one ordered dimension list; parameters: from (ms, inclusive), to (ms, exclusive). */
export function spendSql(groupBy: readonly SpendDimension[]): string {
  const dims = groupBy.map((d) => {
    const sql = DIMENSION_SQL[d];
    if (!sql) throw new Error(`unknown spend dimension ${String(d)}`);
    return sql;
  });
  const select = dims.flatMap((d) => d.select.map(([expr, alias]) => `${expr} AS "${alias}"`));
  const group = dims.flatMap((d) => d.select.map(([expr]) => expr));
  const order = dims.flatMap((d) => d.order);
  return [
    `SELECT ${[...select, METRICS_SQL].join(', ')} FROM "tasks" t`,
    dims.some((d) => d.joinKeys) ? 'LEFT JOIN "api_keys" k ON k."id" = t."key_id"' : '',
    'WHERE t."created_at" >= ? AND t."created_at" < ?',
    group.length ? `GROUP BY ${group.join(', ')} ORDER BY ${order.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

export function spendRepo(sqlite: Database.Database) {
  const cache = new Map<string, Database.Statement>();
  const statement = (groupBy: readonly SpendDimension[]) => {
    const id = groupBy.join(',');
    let stmt = cache.get(id);
    if (!stmt) {
      stmt = sqlite.prepare(spendSql(groupBy));
      cache.set(id, stmt);
    }
    return stmt;
  };

  return {
    /**
     * Tasks created in [fromMs, toMs), grouped by `groupBy` (ordered, no duplicates). One statement,
     * so rows and totals come from one snapshot; totals are the exact integer sums of the rows.
     */
    report(fromMs: number, toMs: number, groupBy: readonly SpendDimension[]): SpendReport {
      const raw = statement(groupBy).all(fromMs, toMs) as SpendRow[];
      if (groupBy.length === 0) return { rows: [], totals: raw[0] ?? zero() };
      const totals = zero();
      for (const row of raw) for (const k of METRIC_KEYS) totals[k] += row[k];
      return { rows: raw, totals };
    },
  };
}

export type SpendRepo = ReturnType<typeof spendRepo>;
