/** Operational aggregates over tasks for the scrape-time gauges (through indexes on next_poll_at). */
import type Database from 'better-sqlite3';

export function opsRepo(sqlite: Database.Database) {
  // Unended tasks are exactly those with a next poll scheduled (ending a task clears it).
  const inFlight = sqlite.prepare('SELECT provider, count(*) AS count FROM tasks WHERE next_poll_at IS NOT NULL GROUP BY provider');
  const oldestDue = sqlite.prepare('SELECT min(next_poll_at) AS at FROM tasks WHERE next_poll_at IS NOT NULL');
  return {
    inFlightByProvider(): { provider: string; count: number }[] {
      return (inFlight.all() as { provider: string | null; count: number }[]).map((r) => ({ provider: r.provider ?? '', count: r.count }));
    },
    /** The earliest scheduled poll (ms), or null when nothing is scheduled. */
    oldestScheduledPoll(): number | null {
      return (oldestDue.get() as { at: number | null }).at;
    },
  };
}

export type OpsRepo = ReturnType<typeof opsRepo>;
