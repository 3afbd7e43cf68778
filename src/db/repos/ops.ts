/** Operational aggregates over tasks for the scrape-time gauges (through indexes on next_poll_at). */
import type Database from 'better-sqlite3';

export function opsRepo(sqlite: Database.Database) {
  // Unended tasks are exactly those with a next poll scheduled (ending a task clears it).
  const inFlight = sqlite.prepare('SELECT provider, count(*) AS count FROM tasks WHERE next_poll_at IS NOT NULL GROUP BY provider');
  const oldestDue = sqlite.prepare('SELECT min(next_poll_at) AS at FROM tasks WHERE next_poll_at IS NOT NULL');
  const releases = RELEASE_LEASES.map((text) => sqlite.prepare(text));
  const releaseAll = sqlite.transaction((now: number) => releases.reduce((n, stmt) => n + stmt.run({ now }).changes, 0));
  return {
    /**
     * Give back every claim a previous process held (SQLite: one process per database, so at start
     * they are all a dead process's): its due work is due at once instead of when the lease ends. A
     * task whose create was in flight keeps its schedule (start-up recovery decides when to ask).
     * Answers how many claims were released.
     */
    releaseLeases(now: number): number {
      return releaseAll.immediate(now);
    },
    inFlightByProvider(): { provider: string; count: number }[] {
      return (inFlight.all() as { provider: string | null; count: number }[]).map((r) => ({ provider: r.provider ?? '', count: r.count }));
    },
    /** The earliest scheduled poll (ms), or null when nothing is scheduled. */
    oldestScheduledPoll(): number | null {
      return (oldestDue.get() as { at: number | null }).at;
    },
  };
}

/** The statements of `releaseLeases`; each takes one named parameter, `@now`. Shared with the PostgreSQL twin. */
export const RELEASE_LEASES = [
  `UPDATE "tasks" SET "next_poll_at" = @now, "lease_owner" = NULL WHERE "lease_owner" IS NOT NULL AND "next_poll_at" > @now
     AND NOT EXISTS (SELECT 1 FROM "attempts" a WHERE a."task_id" = "tasks"."id" AND a."status" = 'submitting')`,
  `UPDATE "callback_deliveries" SET "next_attempt_at" = @now, "lease_owner" = NULL WHERE "lease_owner" IS NOT NULL AND "next_attempt_at" > @now`,
  `UPDATE "mirror_jobs" SET "next_at" = @now, "lease_owner" = NULL WHERE "lease_owner" IS NOT NULL AND "done_at" IS NULL AND "next_at" > @now`,
  `UPDATE "files" SET "lease_owner" = NULL, "lease_until" = NULL WHERE "lease_owner" IS NOT NULL AND "lease_until" > @now`,
];

export type OpsRepo = ReturnType<typeof opsRepo>;
