/**
 * Statement text for one table, derived from the drizzle SQLite table (column names are the same in
 * both dialects), so the PostgreSQL repositories cannot drift from the SQLite ones and never depend
 * on the PostgreSQL schema module. Built once per table at module load: repositories are rebuilt for
 * every transaction and must cost nothing to create. Rows come back camelCased by SQL aliases.
 */
import { getTableColumns, getTableName } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Sql } from './sql.ts';

interface ColumnInfo {
  key: string;
  name: string;
  boolean: boolean;
  /** Filled by the database (SQLite INTEGER PRIMARY KEY AUTOINCREMENT; an identity in PostgreSQL). */
  generated: boolean;
  defaultValue: unknown;
}

/** One table's statements; every method takes the `Sql` it runs on (the pool or a transaction's client). */
export interface PgTable<Row, Insert> {
  /** `"col" AS "key", …` for every column. */
  columns: string;
  /** The same list qualified with a table alias (`t."col" AS "key", …`). */
  columnsOf(alias: string): string;
  /** `SELECT <all columns as camelCase> FROM "table"`: append a WHERE clause. */
  selectSql: string;
  /** Map a raw row selected with `columns` (booleans made real booleans). */
  map(row: Record<string, unknown>): Row;
  /** The first row of a select over `columns`, mapped, or undefined. */
  get(sql: Sql, text: string, params: readonly unknown[]): Promise<Row | undefined>;
  /** Every row of a select over `columns`, mapped. */
  all(sql: Sql, text: string, params: readonly unknown[]): Promise<Row[]>;
  /**
   * INSERT a row (undefined columns take their schema default, as drizzle and fast.ts do). `conflict`
   * is appended as is (`ON CONFLICT DO NOTHING`); `upsert` below builds an update-on-conflict.
   */
  insert(sql: Sql, row: Insert, conflict?: string): Promise<void>;
  /**
   * Insert, or on a conflict on `target` set the `set` columns to the inserted values (`excluded.*`).
   * drizzle's `onConflictDoUpdate({ set: row })` leaves a column whose value is undefined alone: pass
   * only the defined ones for that.
   */
  upsert(sql: Sql, row: Insert, target: readonly string[], set: readonly string[]): Promise<void>;
  /** UPDATE … SET <defined patched columns> WHERE <keyColumn> = …; statement text cached per column set. */
  update(sql: Sql, key: unknown, patch: object): Promise<void>;
}

export function pgTable<T extends SQLiteTable>(table: T, keyColumn: keyof T['$inferSelect'] & string): PgTable<T['$inferSelect'], T['$inferInsert']> {
  type Row = T['$inferSelect'];
  const name = getTableName(table);
  const cols: ColumnInfo[] = Object.entries(getTableColumns(table)).map(([key, col]) => ({
    key,
    name: col.name,
    boolean: col.dataType === 'boolean',
    generated: col.primary && (col as unknown as { autoIncrement?: boolean }).autoIncrement === true,
    defaultValue: col.hasDefault ? col.default : null,
  }));
  const byKey = new Map(cols.map((c) => [c.key, c]));
  const booleans = cols.filter((c) => c.boolean).map((c) => c.key);
  const columnsOf = (alias: string) => cols.map((c) => `${alias}"${c.name}" AS "${c.key}"`).join(', ');
  const columns = columnsOf('');
  const map = (row: Record<string, unknown>): Row => {
    // Real booleans whatever the column type (boolean, or a 0/1 integer).
    for (const k of booleans) row[k] = row[k] === null || row[k] === undefined ? null : row[k] === true || row[k] === 1;
    return row as Row;
  };
  const key = byKey.get(keyColumn)!;

  // Statement texts, cached per shape (which columns an insert names, which an update sets).
  const inserts = new Map<string, { text: string; cols: ColumnInfo[] }>();
  const insertFor = (row: Record<string, unknown>, suffix: string, cacheKey: string) => {
    // A generated id is left to the database unless the row names one.
    const present = cols.filter((c) => !c.generated || row[c.key] !== undefined);
    const signature = `${present.map((c) => c.key).join(',')}|${cacheKey}`;
    let stmt = inserts.get(signature);
    if (!stmt) {
      const names = present.map((c) => `"${c.name}"`).join(', ');
      const values = present.map((_, i) => `$${i + 1}`).join(', ');
      stmt = { text: `INSERT INTO "${name}" (${names}) VALUES (${values})${suffix}`, cols: present };
      inserts.set(signature, stmt);
    }
    return { text: stmt.text, params: stmt.cols.map((c) => (row[c.key] === undefined ? c.defaultValue : row[c.key])) };
  };
  const updates = new Map<string, string>();

  return {
    columns,
    columnsOf: (alias) => columnsOf(`${alias}.`),
    selectSql: `SELECT ${columns} FROM "${name}"`,
    map,
    get: async (sql, text, params) => {
      const row = await sql.row<Record<string, unknown>>(text, params);
      return row ? map(row) : undefined;
    },
    all: async (sql, text, params) => (await sql.rows<Record<string, unknown>>(text, params)).map(map),
    async insert(sql, row, conflict = '') {
      const { text, params } = insertFor(row as Record<string, unknown>, conflict ? ` ${conflict}` : '', conflict);
      await sql.exec(text, params);
    },
    async upsert(sql, row, target, set) {
      const r = row as Record<string, unknown>;
      const setCols = set.map((k) => byKey.get(k)!);
      const targetSql = target.map((k) => `"${byKey.get(k)!.name}"`).join(', ');
      const action = setCols.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${setCols.map((c) => `"${c.name}" = excluded."${c.name}"`).join(', ')}`;
      const suffix = ` ON CONFLICT (${targetSql}) ${action}`;
      const { text, params } = insertFor(r, suffix, suffix);
      await sql.exec(text, params);
    },
    async update(sql, id, patch) {
      const p = patch as Record<string, unknown>;
      const keys = Object.keys(p).filter((k) => p[k] !== undefined && byKey.has(k));
      if (keys.length === 0) return;
      const signature = keys.join(',');
      let text = updates.get(signature);
      if (!text) {
        const sets = keys.map((k, i) => `"${byKey.get(k)!.name}" = $${i + 1}`).join(', ');
        text = `UPDATE "${name}" SET ${sets} WHERE "${key.name}" = $${keys.length + 1}`;
        updates.set(signature, text);
      }
      await sql.exec(text, [...keys.map((k) => p[k]), id]);
    },
  };
}
