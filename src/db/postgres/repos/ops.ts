/** Operational aggregates for the scrape-time gauges on PostgreSQL: the same as {@link opsRepo} (src/db/repos/ops.ts). */
import type { Sql } from '../sql.ts';
import type { Async } from '../../types.ts';
import { RELEASE_LEASES, type OpsRepo } from '../../repos/ops.ts';

// Unended tasks are exactly those with a next poll scheduled (ending a task clears it). Ordered as
// SQLite's GROUP BY hands them out: null first, then byte order.
const IN_FLIGHT_SQL =
  'SELECT "provider", count(*) AS "count" FROM "tasks" WHERE "next_poll_at" IS NOT NULL GROUP BY "provider" ORDER BY "provider" NULLS FIRST';
const RELEASE_SQL = RELEASE_LEASES.map((text) => text.replaceAll('@now', '$1::bigint'));
const OLDEST_DUE_SQL = 'SELECT min("next_poll_at") AS "at" FROM "tasks" WHERE "next_poll_at" IS NOT NULL';

export function pgOpsRepo(sql: Sql): Async<OpsRepo> {
  return {
    async releaseLeases(now: number): Promise<number> {
      let n = 0;
      for (const text of RELEASE_SQL) n += await sql.exec(text, [now]);
      return n;
    },
    async inFlightByProvider(): Promise<{ provider: string; count: number }[]> {
      const rows = await sql.rows<{ provider: string | null; count: number }>(IN_FLIGHT_SQL);
      return rows.map((r) => ({ provider: r.provider ?? '', count: r.count }));
    },
    /** The earliest scheduled poll (ms), or null when nothing is scheduled. */
    async oldestScheduledPoll(): Promise<number | null> {
      return (await sql.row<{ at: number | null }>(OLDEST_DUE_SQL))!.at;
    },
  };
}
