/**
 * PostgreSQL migrations on a real server: replicas starting together migrate a fresh database
 * once (advisory lock), and the spend_daily triggers keep the same rollup as SQLite's for the same
 * task rows, statement for statement.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type pg from 'pg';
import { migratePostgres, openPool, poolSql } from '../../src/db/postgres/client.ts';
import type { Sql } from '../../src/db/postgres/sql.ts';
import { packagePath } from '../../src/paths.ts';
import { createTestDatabase } from '../helpers/postgres-server.ts';

const journal = JSON.parse(readFileSync(packagePath('migrations/postgres/meta/_journal.json'), 'utf8')) as { entries: unknown[] };

let db: { url: string; drop(): Promise<void> };
let pools: pg.Pool[] = [];
let sqlite: Database.Database;

beforeAll(async () => {
  // An empty database (template0), not the migrated test template: the migrations are under test.
  db = await createTestDatabase(inject('pgUrl'), { template: 'template0' });
  pools = [1, 2, 3].map((n) => openPool(db.url, { max: 4, applicationName: `migrate-test-${n}` }));
  sqlite = new Database(':memory:');
  migrate(drizzle(sqlite), { migrationsFolder: packagePath('migrations/sqlite') });
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  sqlite?.close();
  await db?.drop();
});

/** One statement on both engines; written with `?` placeholders, numbered for PostgreSQL. */
async function both(pgSql: Sql, text: string, params: unknown[] = []): Promise<void> {
  let n = 0;
  await pgSql.exec(text.replace(/\?/g, () => `$${++n}`), params);
  sqlite.prepare(text).run(...params);
}

const DAY = 86_400_000;
const MIDNIGHT = Date.UTC(2026, 0, 31, 24); // 2026-02-01T00:00Z: a month end, too

let seq = 0;
function insertTask(pgSql: Sql, t: { key?: string; model?: string; provider?: string | null; status?: string; createdAt: number; units?: number; reserved?: number }) {
  return both(
    pgSql,
    `INSERT INTO tasks (id, key_id, model, quality, status, request, billing_rule, billable_units, unit_price_micros, list_priced, reserved_micros, provider, created_at, updated_at)
     VALUES (?, ?, ?, 'standard', ?, '{}', 'per_second', ?, 1000, false, ?, ?, ?, ?)`,
    [`task_${++seq}`, t.key ?? 'key_a', t.model ?? 'm1', t.status ?? 'pending', t.units ?? 5, t.reserved ?? 5000, t.provider ?? null, t.createdAt, t.createdAt],
  );
}

describe('PostgreSQL migrations', () => {
  it('three replicas migrating one fresh database at once: all succeed, each migration applied once', async () => {
    await Promise.all(pools.map((p) => migratePostgres(p)));
    const sql = poolSql(pools[0]!);
    const applied = await sql.rows<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations');
    expect(applied).toHaveLength(journal.entries.length);
    expect(new Set(applied.map((r) => r.hash)).size).toBe(journal.entries.length);
    // A later start finds nothing to do.
    await migratePostgres(pools[1]!);
    expect(await sql.row('SELECT count(*) AS n FROM drizzle.__drizzle_migrations')).toEqual({ n: journal.entries.length });
    // Every lock was given back: the lock is free for a new session.
    const held = await sql.rows("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted");
    expect(held).toEqual([]);
  });

  it('spend_daily triggers give the same rollup as SQLite for the same statements', async () => {
    const sql = poolSql(pools[0]!);
    for (const key of ['key_a', 'key_b']) {
      await both(sql, `INSERT INTO api_keys (id, name, key_hash, prefix, webhook_secret, created_at) VALUES (?, ?, ?, 'rr_', 's', 0)`, [key, key, `h_${key}`]);
    }
    // Either side of UTC midnight at a month end, before 1970 (ms truncate toward zero), no provider.
    await insertTask(sql, { createdAt: MIDNIGHT - 1, provider: 'fal' });
    await insertTask(sql, { createdAt: MIDNIGHT, provider: 'fal' });
    await insertTask(sql, { createdAt: MIDNIGHT + 5, provider: 'fal', units: 7, reserved: 7000 });
    await insertTask(sql, { createdAt: -1, provider: null });
    await insertTask(sql, { createdAt: -1001 });
    await insertTask(sql, { createdAt: -DAY - 1000, key: 'key_b', model: 'm2' });
    await insertTask(sql, { createdAt: MIDNIGHT + 10, provider: null, status: 'failed' });
    // Uncounted column only: no change. Status within the uncounted set: no change either.
    await both(sql, 'UPDATE tasks SET progress = 50, polls = polls + 1 WHERE id = ?', ['task_1']);
    await both(sql, "UPDATE tasks SET status = 'processing' WHERE id = ?", ['task_1']);
    // Settle: completed with a charge and a refund; the same row of the rollup.
    await both(sql, "UPDATE tasks SET status = 'completed', charged_micros = 4000, refunded_micros = 1000, upstream_cost_micros = 2500 WHERE id = ?", ['task_2']);
    // Provider chosen later (NULL → a provider) and NULL → '' (the same rollup row).
    await both(sql, "UPDATE tasks SET provider = 'kling' WHERE id = ?", ['task_4']);
    await both(sql, "UPDATE tasks SET provider = '' WHERE id = ?", ['task_5']);
    // A task moved to another day and key, one statement changing several rows, a delete.
    await both(sql, 'UPDATE tasks SET created_at = created_at + ?, key_id = ? WHERE id = ?', [3 * DAY, 'key_b', 'task_3']);
    await both(sql, "UPDATE tasks SET status = 'cancelled', refunded_micros = reserved_micros WHERE model = ? AND status = 'pending'", ['m1']);
    await both(sql, 'DELETE FROM tasks WHERE id = ?', ['task_6']);
    await both(sql, "UPDATE tasks SET status = 'completed', billable_units = 3, charged_micros = 3000 WHERE id = ?", ['task_7']);

    const order = 'SELECT * FROM spend_daily ORDER BY day, key_id, model, provider';
    const fromPg = await sql.rows(order);
    const fromSqlite = sqlite.prepare(order).all();
    expect(fromPg).toEqual(fromSqlite);
    // Not vacuous: several days (incl. 1969 and both sides of midnight), keys and fates are in it.
    expect(new Set(fromPg.map((r) => r.day))).toEqual(new Set(['1969-12-30', '1969-12-31', '1970-01-01', '2026-01-31', '2026-02-01', '2026-02-04']));
    expect(fromPg.some((r) => r.completed === 1 && r.charged_micros === 4000)).toBe(true);

    // The rollup is exactly the tasks grouped by day, key, model, provider.
    const regrouped = await sql.rows(
      `SELECT spend_day(created_at) AS day, key_id, model, coalesce(provider, '') AS provider, count(*) AS tasks, sum(charged_micros) AS charged_micros
       FROM tasks GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
    );
    const nonEmpty = fromPg.filter((r) => (r.tasks as number) > 0).map(({ day, key_id, model, provider, tasks, charged_micros }) => ({ day, key_id, model, provider, tasks, charged_micros }));
    expect(nonEmpty).toEqual(regrouped);
  });

  it('a creation time SQLite cannot name as a day is refused on both engines', async () => {
    const sql = poolSql(pools[0]!);
    await expect(insertTask(sql, { createdAt: Date.UTC(10000, 0, 1) })).rejects.toThrow(/day/);
    expect(() => sqlite.prepare("INSERT INTO tasks (id, key_id, model, quality, status, request, billing_rule, billable_units, unit_price_micros, list_priced, reserved_micros, created_at, updated_at) VALUES ('x', 'key_a', 'm1', 'q', 'pending', '{}', 'r', 1, 1, 0, 1, ?, 0)").run(Date.UTC(10000, 0, 1))).toThrow(/day/);
  });

  it("a task's day is its UTC day whatever the session's time zone", async () => {
    const client = await pools[2]!.connect();
    try {
      await client.query("SET TIME ZONE 'Pacific/Kiritimati'"); // UTC+14: local dates run a day ahead
      const { rows } = await client.query('SELECT spend_day($1) AS late, spend_day($2) AS early', [MIDNIGHT - 1, MIDNIGHT]);
      expect(rows[0]).toEqual({ late: '2026-01-31', early: '2026-02-01' });
    } finally {
      await client.query('RESET TIME ZONE');
      client.release();
    }
  });

  it('concurrent transactions on one rollup row from three pools lose no update', async () => {
    const before = await poolSql(pools[0]!).row<{ tasks: number; reserved_micros: number }>(
      "SELECT tasks, reserved_micros FROM spend_daily WHERE day = '2026-03-01' AND key_id = 'key_a' AND model = 'm9' AND provider = 'p'",
    );
    expect(before).toBeUndefined();
    const createdAt = Date.UTC(2026, 2, 1, 12);
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const client = await pools[i % 3]!.connect();
        try {
          await client.query('BEGIN');
          await client.query(
            `INSERT INTO tasks (id, key_id, model, quality, status, request, billing_rule, billable_units, unit_price_micros, list_priced, reserved_micros, provider, created_at, updated_at)
             VALUES ($1, 'key_a', 'm9', 'q', 'pending', '{}', 'r', 1, 1, false, 100, 'p', $2, $2)`,
            [`conc_${i}`, createdAt],
          );
          await client.query("UPDATE tasks SET status = 'completed', charged_micros = 100 WHERE id = $1", [`conc_${i}`]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }),
    );
    const row = await poolSql(pools[0]!).row("SELECT tasks, completed, reserved_micros, charged_micros FROM spend_daily WHERE day = '2026-03-01' AND model = 'm9'");
    expect(row).toEqual({ tasks: 30, completed: 30, reserved_micros: 3000, charged_micros: 3000 });
  });
});
