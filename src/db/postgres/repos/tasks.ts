/**
 * Task and attempt rows on PostgreSQL: the same answers as the SQLite repository (src/db/repos/tasks.ts),
 * with the poll claim as one statement that replicas can run at once (FOR UPDATE SKIP LOCKED).
 */
import { attempts, tasks, type AttemptRow, type TaskRow } from '../../schema/index.ts';
import type { AttemptPatch, AttemptView, NewAttempt, NewTask, TaskPatch, TasksRepo } from '../../repos/tasks.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const t = pgTable(tasks, 'id');
const a = pgTable(attempts, 'id');
const BY_ID = `${t.selectSql} WHERE "id" = $1`;
const FOR_UPDATE = `${BY_ID} FOR UPDATE`;
const ATTEMPTS_OF = `${a.selectSql} WHERE "task_id" = $1 ORDER BY "seq"`;
const BY_TOKEN = `${a.selectSql} WHERE "webhook_token" = $1`;
const FIRST_PAGE = `${t.selectSql} WHERE "key_id" = $1 ORDER BY "id" DESC LIMIT $2`;
const NEXT_PAGE = `${t.selectSql} WHERE "key_id" = $1 AND "id" < $2 ORDER BY "id" DESC LIMIT $3`;
const ALL = t.selectSql;
// The status path in one statement: the task and what the task object shows of its attempts.
const WITH_ATTEMPTS = `SELECT ${t.columns}, (SELECT coalesce(json_agg(json_build_object('providerId', "provider_id", 'status', "status", 'upstreamId', "upstream_id", 'errorCode', "error_code", 'errorMessage', "error_message") ORDER BY "seq"), '[]'::json) FROM "attempts" WHERE "task_id" = "tasks"."id") AS "attemptsJson" FROM "tasks" WHERE "id" = $1`;
const ATTEMPT_TASK = 'SELECT "task_id" AS "taskId" FROM "attempts" WHERE "id" = $1';
const SUBMITTING = `SELECT a."task_id" AS "taskId", a."provider_id" AS "providerId", a."created_at" AS "createdAt", t."next_poll_at" AS "nextPollAt"
  FROM "tasks" t JOIN "attempts" a ON a."task_id" = t."id"
  WHERE t."next_poll_at" IS NOT NULL AND a."status" = 'submitting'`;

/**
 * Each provider's due tasks, at most $2 each (oldest schedule first), and those with no provider.
 * Providers are found by a loose index scan over (provider, next_poll_at): one seek per provider, as
 * SQLite's skip-scan, instead of reading every task ever written. `lock` makes each per-provider read
 * lock its rows, skipping rows another replica is claiming right now.
 */
const dueCtes = (lock: string) => `ps(p) AS (
    SELECT min("provider") FROM "tasks"
    UNION ALL
    SELECT (SELECT min("provider") FROM "tasks" WHERE "provider" > ps.p) FROM ps WHERE ps.p IS NOT NULL
  ), due_none AS (
    SELECT "id", "provider", "next_poll_at" AS at FROM "tasks"
    WHERE "provider" IS NULL AND "next_poll_at" <= $1::bigint ORDER BY "next_poll_at" LIMIT $2 ${lock}
  ), due_some AS (
    SELECT d.* FROM ps CROSS JOIN LATERAL (
      SELECT "id", "provider", "next_poll_at" AS at FROM "tasks"
      WHERE "provider" = ps.p AND "next_poll_at" <= $1::bigint ORDER BY "next_poll_at" LIMIT $2 ${lock}
    ) d WHERE ps.p IS NOT NULL
  ), due AS (SELECT * FROM due_none UNION ALL SELECT * FROM due_some)`;
// SQLite's order: tasks with no provider first, then providers in byte order, each oldest first.
const DUE_ORDER = 'ORDER BY "provider" COLLATE "C" NULLS FIRST, at';
const DUE = `WITH RECURSIVE ${dueCtes('')} SELECT "id", "provider" FROM due ${DUE_ORDER}`;
// One statement: lock the due rows (skipping those another replica holds), move each one's next poll
// a lease ahead under this owner, answer what was claimed. A row another replica claimed and committed
// meanwhile is re-checked against `next_poll_at <= now` after its lock and dropped.
const CLAIM = `WITH RECURSIVE ${dueCtes('FOR UPDATE SKIP LOCKED')}, claimed AS (
    UPDATE "tasks" SET "next_poll_at" = $1::bigint + $4::bigint, "lease_owner" = $3 FROM due WHERE "tasks"."id" = due."id"
    RETURNING "tasks"."id", "tasks"."provider", due.at
  ) SELECT "id", "provider" FROM claimed ${DUE_ORDER}`;

type Due = { id: string; provider: string | null };

export function pgTasksRepo(sql: Sql): Async<TasksRepo> {
  return {
    insertTask: (row: NewTask) => t.insert(sql, row),
    insertAttempt: (row: NewAttempt) => a.insert(sql, row),
    get: (id: string) => t.get(sql, BY_ID, [id]),
    /** The task, locked until the transaction ends: two replicas ending it at once run one after the other. */
    getForUpdate: (id: string) => t.get(sql, FOR_UPDATE, [id]),
    async getWithAttempts(id: string): Promise<{ task: TaskRow; attempts: AttemptView[] } | undefined> {
      const row = await sql.row<Record<string, unknown> & { attemptsJson: AttemptView[] }>(WITH_ATTEMPTS, [id]);
      if (!row) return undefined;
      const attemptsOf = row.attemptsJson;
      delete (row as Partial<typeof row>).attemptsJson;
      return { task: t.map(row), attempts: attemptsOf };
    },
    attempts: (taskId: string): Promise<AttemptRow[]> => a.all(sql, ATTEMPTS_OF, [taskId]),
    update: (id: string, patch: TaskPatch) => t.update(sql, id, patch),
    updateAttempt: (id: string, patch: AttemptPatch) => a.update(sql, id, patch),
    attemptTask: async (attemptId: string) => (await sql.row<{ taskId: string }>(ATTEMPT_TASK, [attemptId]))?.taskId,
    attemptByWebhookToken: (token: string) => a.get(sql, BY_TOKEN, [token]),
    listForKey: (keyId: string, limit: number, after?: string) =>
      after ? t.all(sql, NEXT_PAGE, [keyId, after, limit]) : t.all(sql, FIRST_PAGE, [keyId, limit]),
    dueByProvider: (now: number, limit: number) => sql.rows<Due>(DUE, [now, limit]),
    claimDue: (now: number, limit: number, owner: string, leaseMs: number) => sql.rows<Due>(CLAIM, [now, limit, owner, leaseMs]),
    submittingAttempts: () => sql.rows<{ taskId: string; providerId: string; createdAt: number; nextPollAt: number }>(SUBMITTING),
    all: () => t.all(sql, ALL, []),
  };
}
