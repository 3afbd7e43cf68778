/**
 * The PostgreSQL pool answers like SQLite does: int8 and numeric as JS numbers (without touching
 * pg's process-wide parsers), an int8 past 2^53 refused rather than rounded; `exec` counts rows;
 * a URL's password never reaches a log.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { clientSql, openPool, poolSql, redactUrl } from '../../src/db/postgres/client.ts';
import { createTestDatabase } from '../helpers/postgres-server.ts';

let db: { url: string; drop(): Promise<void> };
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase(inject('pgUrl'));
  pool = openPool(db.url, { max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('PostgreSQL client', () => {
  it('reads int8, numeric and their arrays as numbers; the global parsers stay pg defaults', async () => {
    const sql = poolSql(pool);
    const row = await sql.row(
      `SELECT 9007199254740991::int8 AS max, (-5)::int8 AS neg, sum(x) AS total, avg(x) AS mean, array_agg(x) AS list, NULL::int8 AS none, true AS yes
       FROM (VALUES (1::int8), (2::int8)) v(x)`,
    );
    expect(row).toEqual({ max: 9007199254740991, neg: -5, total: 3, mean: 1.5, list: [1, 2], none: null, yes: true });
    const plain = new pg.Client({ connectionString: db.url });
    await plain.connect();
    try {
      expect((await plain.query('SELECT 7::int8 AS n')).rows[0]).toEqual({ n: '7' });
    } finally {
      await plain.end();
    }
  });

  it('refuses an int8 a JS number cannot hold, and the connection stays usable', async () => {
    const client = await pool.connect();
    try {
      const sql = clientSql(client);
      await expect(sql.rows('SELECT 9007199254740993::int8 AS n')).rejects.toThrow(/does not fit/);
      expect(await sql.row('SELECT 1::int8 AS n')).toEqual({ n: 1 });
    } finally {
      client.release();
    }
  });

  it('exec answers the rows a statement touched; row answers undefined when there is none', async () => {
    const client = await pool.connect();
    try {
      const sql = clientSql(client);
      await sql.exec('CREATE TEMP TABLE t (n int8)');
      expect(await sql.exec('INSERT INTO t SELECT generate_series(1, 3)')).toBe(3);
      expect(await sql.exec('UPDATE t SET n = n + 1 WHERE n > $1', [1])).toBe(2);
      expect(await sql.row('SELECT n FROM t WHERE n > 100')).toBeUndefined();
    } finally {
      client.release();
    }
  });

  it('redactUrl drops the password, wherever the URL carries it', () => {
    expect(redactUrl('postgres://gw:s3cret@db.internal:5432/reelroute?sslmode=require')).toBe('postgres://gw@db.internal:5432/reelroute?sslmode=require');
    expect(redactUrl('postgresql://gw@db/reelroute?password=s3cret&application_name=x')).toBe('postgresql://gw@db/reelroute?application_name=x');
    expect(redactUrl('postgres://db/reelroute')).toBe('postgres://db/reelroute');
  });
});
