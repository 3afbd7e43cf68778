/**
 * The PostgreSQL schema is a hand-kept twin of the SQLite one (drizzle has no cross-dialect table);
 * this holds them together: same tables, columns (name, type family, not-null, default, identity),
 * keys, indexes, unique constraints and foreign keys, and the same row types for the repositories.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { getTableName, is, Table } from 'drizzle-orm';
import { getTableConfig as sqliteConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { getTableConfig as pgConfig, PgTable } from 'drizzle-orm/pg-core';
import * as sqliteSchema from '../../src/db/schema/index.ts';
import * as pgSchema from '../../src/db/postgres/schema/index.ts';

/** SQLite column type → its PostgreSQL twin's SQL type. */
const TYPE_TWIN: Record<string, string> = {
  SQLiteInteger: 'bigint',
  SQLiteBoolean: 'boolean',
  SQLiteReal: 'double precision',
  SQLiteText: 'text COLLATE "C"',
};

type AnyColumn = ReturnType<typeof sqliteConfig>['columns'][number] | ReturnType<typeof pgConfig>['columns'][number];
type Config = ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>;

function tablesOf<T>(schema: Record<string, unknown>, kind: new (...args: never[]) => T): Map<string, T> {
  const tables = Object.values(schema).filter((v): v is T => is(v, kind as never));
  return new Map(tables.map((t) => [getTableName(t as Table), t]));
}

/** What must match, per column; `type` is translated to PostgreSQL on the SQLite side. */
function column(c: AnyColumn, sqlite: boolean) {
  const autoIncrement = sqlite ? (c as { autoIncrement?: boolean }).autoIncrement === true : (c as { generatedIdentity?: unknown }).generatedIdentity !== undefined;
  return {
    name: c.name,
    type: sqlite ? TYPE_TWIN[c.columnType] : c.getSQLType(),
    notNull: c.notNull,
    primary: c.primary,
    // An autoincrement key is filled by the database on both (SQLite rowid, PostgreSQL identity).
    hasDefault: c.hasDefault || autoIncrement,
    default: c.default,
    autoIncrement,
    unique: c.isUnique ? c.uniqueName : null,
  };
}

function shape(cfg: Config, sqlite: boolean) {
  return {
    columns: cfg.columns.map((c) => column(c, sqlite)).sort((a, b) => a.name.localeCompare(b.name)),
    primaryKeys: cfg.primaryKeys.map((pk) => pk.columns.map((c) => c.name)),
    indexes: cfg.indexes
      .map((i) => ({ name: i.config.name ?? '(unnamed)', unique: i.config.unique, columns: i.config.columns.map((c) => (c as { name: string }).name) }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    uniqueConstraints: cfg.uniqueConstraints.map((u) => ({ name: u.getName(), columns: u.columns.map((c) => c.name) })),
    foreignKeys: cfg.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        return { columns: ref.columns.map((c) => c.name), table: getTableName(ref.foreignTable), foreignColumns: ref.foreignColumns.map((c) => c.name) };
      })
      .sort((a, b) => a.columns.join().localeCompare(b.columns.join())),
  };
}

const sqliteTables = tablesOf(sqliteSchema, SQLiteTable);
const pgTables = tablesOf(pgSchema, PgTable);

describe('PostgreSQL schema mirrors the SQLite schema', () => {
  it('has the same tables', () => {
    expect([...pgTables.keys()].sort()).toEqual([...sqliteTables.keys()].sort());
    expect(sqliteTables.size).toBeGreaterThan(10);
  });

  for (const [name, sqliteTable] of sqliteTables) {
    it(`${name}: same columns, keys, indexes and foreign keys`, () => {
      const pgTable = pgTables.get(name);
      expect(pgTable, `no PostgreSQL table ${name}`).toBeDefined();
      const expected = shape(sqliteConfig(sqliteTable), true);
      expect(expected.columns.every((c) => c.type !== undefined), `a column type of ${name} has no PostgreSQL twin`).toBe(true);
      expect(shape(pgConfig(pgTable!), false)).toEqual(expected);
    });
  }

  it('gives the repositories the same row types', () => {
    type Rows<S> = { [K in keyof S as S[K] extends Table ? K : never]: S[K] extends Table ? S[K]['$inferSelect'] : never };
    type Inserts<S> = { [K in keyof S as S[K] extends Table ? K : never]: S[K] extends Table ? S[K]['$inferInsert'] : never };
    expectTypeOf<Rows<typeof pgSchema>>().toEqualTypeOf<Rows<typeof sqliteSchema>>();
    expectTypeOf<Inserts<typeof pgSchema>>().toEqualTypeOf<Inserts<typeof sqliteSchema>>();
  });
});
