/**
 * Spend reports on PostgreSQL: the same report as {@link spendRepo} (src/db/repos/spend.ts), read
 * from the same `spend_daily` rollup (kept by PostgreSQL triggers on `tasks`).
 *
 * Rows come back in SQLite's order: text columns are `COLLATE "C"` in the PostgreSQL schema
 * (schema/text.ts), byte order as SQLite's BINARY; NULL sorts last ascending in PostgreSQL and
 * first in SQLite, so the nullable group columns sort `NULLS FIRST`.
 */
import type { Sql } from '../sql.ts';
import type { Async } from '../../types.ts';
import {
  METRIC_KEYS,
  addMetrics,
  zeroMetrics,
  type SpendDimension,
  type SpendMetrics,
  type SpendRange,
  type SpendRepo,
  type SpendReport,
  type SpendRow,
} from '../../repos/spend.ts';

/** Per dimension over the rollup `r` (and keys `k`): selected columns, grouping and sort expressions. */
const DIMENSIONS: Record<SpendDimension, { select: [expr: string, alias: string][]; group?: string[]; order: string[]; joinKeys?: true }> = {
  day: { select: [['r."day"', 'day']], order: ['r."day"'] },
  key: {
    select: [
      ['r."key_id"', 'keyId'],
      ['k."name"', 'keyName'],
    ],
    group: ['k."name"', 'r."key_id"'],
    // By name, the id breaking ties between keys of the same name (as on SQLite).
    order: ['k."name" NULLS FIRST', 'r."key_id"'],
    joinKeys: true,
  },
  model: { select: [['r."model"', 'model']], order: ['r."model"'] },
  // '' in the rollup means no provider ran the tasks; reports say null (sorted first, as on SQLite).
  provider: { select: [[`NULLIF(r."provider", '')`, 'provider']], order: [`NULLIF(r."provider", '') NULLS FIRST`] },
};

// SUM over int8 is numeric in PostgreSQL; the pool parses it to a JavaScript number (exact below 2^53).
const METRICS = [
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

/** The rollup statement; parameters: from day, to day (inclusive) and, with `byKey`, the key id. */
function pgSpendSql(groupBy: readonly SpendDimension[], byKey = false): string {
  const dims = groupBy.map((d) => {
    const sql = DIMENSIONS[d];
    if (!sql) throw new Error(`unknown spend dimension ${String(d)}`);
    return sql;
  });
  const select = dims.flatMap((d) => d.select.map(([expr, alias]) => `${expr} AS "${alias}"`));
  const group = dims.flatMap((d) => d.group ?? d.select.map(([expr]) => expr));
  const order = dims.flatMap((d) => d.order);
  return [
    `SELECT ${[...select, METRICS].join(', ')} FROM "spend_daily" r`,
    dims.some((d) => d.joinKeys) ? 'LEFT JOIN "api_keys" k ON k."id" = r."key_id"' : '',
    `WHERE r."day" >= $1 AND r."day" <= $2${byKey ? ' AND r."key_id" = $3' : ''}`,
    // Groups whose tasks all moved elsewhere (failover changes a task's provider) sum to zero tasks.
    group.length ? `GROUP BY ${group.join(', ')} HAVING SUM(r."tasks") > 0 ORDER BY ${order.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Statements by grouping and key filter, built once per process (factories run per pool and per transaction). */
const STATEMENTS = new Map<string, string>();
function statement(groupBy: readonly SpendDimension[], byKey: boolean): string {
  const id = `${groupBy.join(',')}|${byKey}`;
  let text = STATEMENTS.get(id);
  if (text === undefined) {
    text = pgSpendSql(groupBy, byKey);
    STATEMENTS.set(id, text);
  }
  return text;
}

const params = (r: SpendRange) => (r.keyId === undefined ? [r.from, r.to] : [r.from, r.to, r.keyId]);

export function pgSpendRepo(sql: Sql): Async<SpendRepo> {
  return {
    async report(range: SpendRange, groupBy: readonly SpendDimension[]): Promise<SpendReport> {
      const byKey = range.keyId !== undefined;
      if (groupBy.length === 0) {
        const row = (await sql.row<Record<keyof SpendMetrics, number | null>>(statement([], byKey), params(range)))!;
        const totals = zeroMetrics();
        for (const k of METRIC_KEYS) totals[k] = row[k] ?? 0;
        return { rows: [], totals };
      }
      const rows = await sql.rows<SpendRow>(statement(groupBy, byKey), params(range));
      const totals = zeroMetrics();
      for (const row of rows) addMetrics(totals, row);
      return { rows, totals };
    },
  };
}
