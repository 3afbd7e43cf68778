/**
 * The drill's direct reads of the gateway's database, beside the running gateways, on either engine:
 * a SQLite file opened read-only (WAL lets a reader in) or the PostgreSQL database over one short
 * connection. Also the drill's own PostgreSQL: a fresh database on the server REELROUTE_DRILL_PG_URL
 * names, or on a server the drill starts (test/helpers/postgres-server.ts) and stops at the end.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { createTestDatabase, startPostgres } from '../test/helpers/postgres-server.ts';

export type DrillEngine = 'sqlite' | 'postgres';

const isPostgres = (location: string): boolean => /^postgres(ql)?:/i.test(location);

/** Run one read-only query (`$1…` placeholders on PostgreSQL, `?` on SQLite) and return its rows. */
async function rows<T>(location: string, sql: { sqlite: string; postgres: string }, params: unknown[] = []): Promise<T[]> {
  if (!isPostgres(location)) {
    const db = new Database(location, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql.sqlite).all(...params) as T[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: location, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query(sql.postgres, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Attempts left `submitting` (their create was on its way: written intent, no answer). With `pid`,
 * only those of tasks whose lease that gateway process holds (a replica id is `host:pid:random`).
 */
export async function submittingAttempts(location: string, pid?: number): Promise<number> {
  const all = `SELECT count(*) AS n FROM "attempts" WHERE "status" = 'submitting'`;
  const owned = `SELECT count(*) AS n FROM "attempts" a JOIN "tasks" t ON t."id" = a."task_id" WHERE a."status" = 'submitting' AND t."lease_owner" LIKE $1`;
  const [row] = await rows<{ n: number | string }>(location, { sqlite: all, postgres: pid === undefined ? all : owned }, pid === undefined ? [] : [`%:${pid}:%`]);
  return Number(row?.n ?? 0);
}

/**
 * Lease owners (replica ids) of tasks whose create has been on its way upstream for over `ms`: their
 * attempt is still `submitting` (a create the emulator holds). PostgreSQL only (replicas).
 */
export async function slowCreateOwners(location: string, ms: number): Promise<string[]> {
  if (!isPostgres(location)) return [];
  const q = `SELECT DISTINCT t."lease_owner" AS owner FROM "attempts" a JOIN "tasks" t ON t."id" = a."task_id"
    WHERE a."status" = 'submitting' AND a."created_at" < $1::bigint AND t."lease_owner" IS NOT NULL`;
  return (await rows<{ owner: string }>(location, { sqlite: q, postgres: q }, [Date.now() - ms])).map((r) => r.owner);
}

/** Task id → drill index, from each task's stored request (its prompt `drill:<idx>:…`). */
export async function taskIndexes(location: string): Promise<Map<string, number>> {
  const q = `SELECT "id", "request" FROM "tasks"`;
  const out = new Map<string, number>();
  for (const r of await rows<{ id: string; request: string }>(location, { sqlite: q, postgres: q })) {
    const m = /drill:(\d+):/.exec(r.request);
    if (m) out.set(r.id, Number(m[1]));
  }
  return out;
}

/** Lease owners (replica ids) of the open mirror jobs whose attempt has one of these upstream ids. */
export async function mirrorOwners(location: string, upstreamIds: string[]): Promise<string[]> {
  if (upstreamIds.length === 0 || !isPostgres(location)) return [];
  const q = `SELECT DISTINCT j."lease_owner" AS owner FROM "mirror_jobs" j JOIN "attempts" a ON a."id" = j."attempt_id"
    WHERE j."done_at" IS NULL AND j."lease_owner" IS NOT NULL AND a."upstream_id" = ANY($1::text[])`;
  return (await rows<{ owner: string }>(location, { sqlite: q, postgres: q }, [upstreamIds])).map((r) => r.owner);
}

/** The drill's PostgreSQL database: its URL, and how to drop it (and stop the server the drill started). */
export interface DrillDatabase {
  url: string;
  /** `keep`: leave the database for a look afterwards (only on a server the drill did not start). */
  close(keep?: boolean): Promise<void>;
}

/**
 * A fresh, empty database (the gateways migrate it when they start together, under their advisory
 * lock) on `serverUrl`'s server, or on a server started here when none is named.
 */
export async function drillDatabase(serverUrl: string | undefined, log: (line: string) => void): Promise<DrillDatabase> {
  const server = serverUrl ? null : await startPostgres(log);
  try {
    const db = await createTestDatabase(serverUrl ?? server!.url, { template: 'template0' });
    return {
      url: db.url,
      async close(keep = false) {
        if (keep && !server) return log(`drill database kept: ${db.url}`);
        await db.drop().catch((err: Error) => log(`drop of the drill database failed: ${err.message}`));
        await server?.stop();
      },
    };
  } catch (err) {
    await server?.stop();
    throw err;
  }
}
