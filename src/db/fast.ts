/**
 * Prepared statements for the hot paths, derived from the drizzle schema so the two cannot drift.
 *
 * drizzle's query builder re-builds and re-prepares SQL on every non-prepared call and maps rows
 * column by column; on the submit and status paths that cost more than the queries themselves
 * (measured in bench/). Here each statement is prepared once, rows come back already camelCased
 * (SQL aliases), and an update statement is cached per set of patched columns.
 */
import type Database from 'better-sqlite3';
import { getTableColumns, getTableName } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';

interface ColumnInfo {
  key: string;
  name: string;
  boolean: boolean;
  defaultValue: unknown;
}

export interface FastTable<Row, Insert> {
  /** `SELECT <all columns as camelCase> FROM table` — append a WHERE clause. */
  selectSql: string;
  /** Prepare a select; rows come back typed, booleans mapped. */
  select(where: string): { get(...params: unknown[]): Row | undefined; all(...params: unknown[]): Row[] };
  /** Map a raw row selected with `selectSql`'s columns (booleans back from 0/1). */
  map(row: Record<string, unknown>): Row;
  insert(row: Insert): void;
  /** UPDATE … SET <patched columns> WHERE <keyColumn> = ?; one prepared statement per column set. */
  update(key: string, patch: Partial<Row>): void;
}

export function fastTable<T extends SQLiteTable>(
  sqlite: Database.Database,
  table: T,
  keyColumn: keyof T['$inferSelect'] & string,
): FastTable<T['$inferSelect'], T['$inferInsert']> {
  type Row = T['$inferSelect'];
  const name = getTableName(table);
  const columns: ColumnInfo[] = Object.entries(getTableColumns(table)).map(([key, col]) => ({
    key,
    name: col.name,
    boolean: col.dataType === 'boolean',
    defaultValue: col.hasDefault ? col.default : null,
  }));
  const byKey = new Map(columns.map((c) => [c.key, c]));
  const booleans = columns.filter((c) => c.boolean).map((c) => c.key);
  const selectSql = `SELECT ${columns.map((c) => `"${c.name}" AS "${c.key}"`).join(', ')} FROM "${name}"`;
  const fromDb = (row: Record<string, unknown> | undefined): Row | undefined => {
    if (row) for (const k of booleans) row[k] = row[k] === null ? null : row[k] === 1;
    return row as Row | undefined;
  };
  const toDb = (value: unknown): unknown => (typeof value === 'boolean' ? (value ? 1 : 0) : value);

  const insertStmt = sqlite.prepare(`INSERT INTO "${name}" (${columns.map((c) => `"${c.name}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const updates = new Map<string, Database.Statement>();
  const key = byKey.get(keyColumn)!;

  return {
    selectSql,
    select(where) {
      const stmt = sqlite.prepare(`${selectSql} ${where}`);
      return {
        get: (...params) => fromDb(stmt.get(...params) as Record<string, unknown> | undefined),
        all: (...params) => (stmt.all(...params) as Record<string, unknown>[]).map((r) => fromDb(r)!),
      };
    },
    map: (row) => fromDb(row)!,
    insert(row) {
      const r = row as Record<string, unknown>;
      insertStmt.run(columns.map((c) => toDb(r[c.key] === undefined ? c.defaultValue : r[c.key])));
    },
    update(id, patch) {
      const keys = Object.keys(patch).filter((k) => (patch as Record<string, unknown>)[k] !== undefined);
      if (keys.length === 0) return;
      const signature = keys.join(',');
      let stmt = updates.get(signature);
      if (!stmt) {
        const sets = keys.map((k) => `"${byKey.get(k)!.name}" = ?`).join(', ');
        stmt = sqlite.prepare(`UPDATE "${name}" SET ${sets} WHERE "${key.name}" = ?`);
        updates.set(signature, stmt);
      }
      stmt.run(...keys.map((k) => toDb((patch as Record<string, unknown>)[k])), id);
    },
  };
}
