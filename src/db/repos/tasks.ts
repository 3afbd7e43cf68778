/**
 * Task and attempt rows, and the poll schedule (an index on next_poll_at, never a full scan).
 * Everything here is on the submit, status or poll path, so it runs on prepared statements.
 */
import type Database from 'better-sqlite3';
import { fastTable } from '../fast.ts';
import { attempts, tasks, type AttemptRow, type TaskRow } from '../schema/index.ts';

export type NewTask = typeof tasks.$inferInsert;
/** What the task object shows of an attempt. */
export type AttemptView = Pick<AttemptRow, 'providerId' | 'status' | 'upstreamId' | 'errorCode' | 'errorMessage'>;
export type NewAttempt = typeof attempts.$inferInsert;
export type TaskPatch = Partial<Omit<TaskRow, 'id' | 'keyId' | 'createdAt'>>;
export type AttemptPatch = Partial<Pick<AttemptRow, 'upstreamId' | 'upstreamHandle' | 'status' | 'errorCode' | 'errorMessage' | 'updatedAt'>>;

export function tasksRepo(sqlite: Database.Database) {
  const t = fastTable(sqlite, tasks, 'id');
  const a = fastTable(sqlite, attempts, 'id');
  const byId = t.select('WHERE "id" = ?');
  const attemptsOf = a.select('WHERE "task_id" = ? ORDER BY "seq"');
  const byToken = a.select('WHERE "webhook_token" = ?');
  const firstPage = t.select('WHERE "key_id" = ? ORDER BY "id" DESC LIMIT ?');
  const nextPage = t.select('WHERE "key_id" = ? AND "id" < ? ORDER BY "id" DESC LIMIT ?');
  const all = t.select('');
  // The status path in one statement: the task and, as JSON, what the task object shows of its attempts.
  const withAttempts = sqlite.prepare(
    `${t.selectSql.replace(' FROM "tasks"', '')}, (SELECT json_group_array(json_object('providerId', "provider_id", 'status', "status", 'upstreamId', "upstream_id", 'errorCode', "error_code", 'errorMessage', "error_message")) FROM (SELECT * FROM "attempts" WHERE "task_id" = "tasks"."id" ORDER BY "seq")) AS "attemptsJson" FROM "tasks" WHERE "id" = ?`,
  );
  // Providers that have tasks, by skip-scanning the (provider, next_poll_at) index: one seek per provider.
  const providers = sqlite.prepare(
    `WITH RECURSIVE ps(p) AS (
       SELECT (SELECT "provider" FROM "tasks" WHERE "provider" IS NOT NULL ORDER BY "provider" LIMIT 1)
       UNION ALL
       SELECT (SELECT "provider" FROM "tasks" WHERE "provider" > ps.p ORDER BY "provider" LIMIT 1) FROM ps WHERE ps.p IS NOT NULL
     ) SELECT p FROM ps WHERE p IS NOT NULL`,
  );
  const dueOf = sqlite.prepare('SELECT "id", "provider" FROM "tasks" WHERE "provider" = ? AND "next_poll_at" <= ? ORDER BY "next_poll_at" LIMIT ?');
  const dueNoProvider = sqlite.prepare('SELECT "id", "provider" FROM "tasks" WHERE "provider" IS NULL AND "next_poll_at" <= ? ORDER BY "next_poll_at" LIMIT ?');
  // Start-up recovery: only open tasks can have a create in flight, so walk them through their
  // schedule index (not every attempt ever written) and look up each one's attempts.
  const submitting = sqlite.prepare(
    `SELECT a."task_id" AS taskId, a."provider_id" AS providerId, a."created_at" AS createdAt, t."next_poll_at" AS nextPollAt
     FROM "tasks" t INDEXED BY "tasks_next_poll" CROSS JOIN "attempts" a ON a."task_id" = t."id"
     WHERE t."next_poll_at" IS NOT NULL AND a."status" = 'submitting'`,
  );
  const attemptTask = sqlite.prepare('SELECT "task_id" AS taskId FROM "attempts" WHERE "id" = ?');
  const lease = sqlite.prepare('UPDATE "tasks" SET "next_poll_at" = ?, "lease_owner" = ? WHERE "id" = ?');
  const dueByProvider = (now: number, limit: number): { id: string; provider: string | null }[] => {
    const out = dueNoProvider.all(now, limit) as { id: string; provider: string | null }[];
    for (const { p } of providers.all() as { p: string }[]) out.push(...(dueOf.all(p, now, limit) as { id: string; provider: string }[]));
    return out;
  };
  const claimDue = sqlite.transaction((now: number, limit: number, owner: string, leaseMs: number) => {
    const due = dueByProvider(now, limit);
    for (const { id } of due) lease.run(now + leaseMs, owner, id);
    return due;
  });

  return {
    insertTask: (row: NewTask): void => t.insert(row),
    insertAttempt: (row: NewAttempt): void => a.insert(row),
    get: (id: string): TaskRow | undefined => byId.get(id),
    /**
     * The task, locked until the transaction ends (PostgreSQL: FOR UPDATE), so two replicas ending
     * it at once run one after the other. SQLite's IMMEDIATE transactions already run one at a time.
     */
    getForUpdate: (id: string): TaskRow | undefined => byId.get(id),
    /** A task with the attempt fields its view shows, in one read. */
    getWithAttempts(id: string): { task: TaskRow; attempts: AttemptView[] } | undefined {
      const row = withAttempts.get(id) as (Record<string, unknown> & { attemptsJson: string }) | undefined;
      if (!row) return undefined;
      const attempts = JSON.parse(row.attemptsJson) as AttemptView[];
      delete (row as Partial<typeof row>).attemptsJson;
      return { task: t.map(row), attempts };
    },
    attempts: (taskId: string): AttemptRow[] => attemptsOf.all(taskId),
    update: (id: string, patch: TaskPatch): void => t.update(id, patch),
    updateAttempt: (id: string, patch: AttemptPatch): void => a.update(id, patch),
    /** The task an attempt belongs to. */
    attemptTask: (attemptId: string): string | undefined => (attemptTask.get(attemptId) as { taskId: string } | undefined)?.taskId,
    attemptByWebhookToken: (token: string): AttemptRow | undefined => byToken.get(token),
    /** A key's tasks, newest first (ids sort by creation time), after the cursor id if given. */
    listForKey: (keyId: string, limit: number, after?: string): TaskRow[] =>
      after ? nextPage.all(keyId, after, limit) : firstPage.all(keyId, limit),
    /**
     * Tasks whose next poll is due, at most `limit` per provider (each provider's oldest schedule
     * first): a provider whose backlog never drains cannot keep another's due tasks from being read.
     */
    dueByProvider,
    /**
     * Claim due tasks as `dueByProvider` reads them, for `leaseMs`: each one's next poll moves a lease
     * ahead, owned by `owner`, so no other replica reads it as due until that lease has run out (the
     * claimer reschedules it when done; a dead claimer's tasks are due again after the lease).
     * PostgreSQL skips rows another replica is claiming at the same moment (SKIP LOCKED).
     */
    claimDue: (now: number, limit: number, owner: string, leaseMs: number): { id: string; provider: string | null }[] => claimDue.immediate(now, limit, owner, leaseMs),
    /** Attempts still `submitting` on open tasks (a scan: for start-up recovery only). */
    submittingAttempts: (): { taskId: string; providerId: string; createdAt: number; nextPollAt: number }[] =>
      submitting.all() as { taskId: string; providerId: string; createdAt: number; nextPollAt: number }[],
    /** All tasks (tests and invariant checks; not for request paths). */
    all: (): TaskRow[] => all.all(),
  };
}

export type TasksRepo = ReturnType<typeof tasksRepo>;
