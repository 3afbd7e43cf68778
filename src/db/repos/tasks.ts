/** Task and attempt rows, and the poll schedule (an index on next_poll_at, never a full scan). */
import { and, asc, desc, eq, lt, lte, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { attempts, tasks, type AttemptRow, type TaskRow } from '../schema/index.ts';

export type NewTask = typeof tasks.$inferInsert;
export type NewAttempt = typeof attempts.$inferInsert;
export type TaskPatch = Partial<Omit<TaskRow, 'id' | 'keyId' | 'createdAt'>>;
export type AttemptPatch = Partial<Pick<AttemptRow, 'upstreamId' | 'status' | 'errorCode' | 'errorMessage' | 'updatedAt'>>;

export function tasksRepo(db: Db) {
  const byId = db.select().from(tasks).where(eq(tasks.id, sql.placeholder('id'))).prepare();
  const attemptsOf = db.select().from(attempts).where(eq(attempts.taskId, sql.placeholder('id'))).orderBy(asc(attempts.seq)).prepare();
  const due = db
    .select({ id: tasks.id, provider: tasks.provider })
    .from(tasks)
    .where(and(isNotNull(tasks.nextPollAt), lte(tasks.nextPollAt, sql.placeholder('now'))))
    .orderBy(asc(tasks.nextPollAt))
    .limit(sql.placeholder('limit'))
    .prepare();
  const insertTask = (row: NewTask) => db.insert(tasks).values(row).run();
  const insertAttempt = (row: NewAttempt) => db.insert(attempts).values(row).run();

  return {
    insertTask,
    insertAttempt,
    get(id: string): TaskRow | undefined {
      return byId.get({ id });
    },
    attempts(taskId: string): AttemptRow[] {
      return attemptsOf.all({ id: taskId });
    },
    update(id: string, patch: TaskPatch): void {
      db.update(tasks).set(patch).where(eq(tasks.id, id)).run();
    },
    /** The task an attempt belongs to. */
    attemptTask(attemptId: string): string | undefined {
      return db.select({ taskId: attempts.taskId }).from(attempts).where(eq(attempts.id, attemptId)).get()?.taskId;
    },
    attemptByWebhookToken(token: string): AttemptRow | undefined {
      return db.select().from(attempts).where(eq(attempts.webhookToken, token)).get();
    },
    updateAttempt(id: string, patch: AttemptPatch): void {
      db.update(attempts).set(patch).where(eq(attempts.id, id)).run();
    },
    /** A key's tasks, newest first (ids sort by creation time), after the cursor id if given. */
    listForKey(keyId: string, limit: number, after?: string): TaskRow[] {
      const where = after ? and(eq(tasks.keyId, keyId), lt(tasks.id, after)) : eq(tasks.keyId, keyId);
      return db.select().from(tasks).where(where).orderBy(desc(tasks.id)).limit(limit).all();
    },
    /** Tasks whose next poll is due (id and current provider), oldest schedule first. */
    due(now: number, limit: number): { id: string; provider: string | null }[] {
      return due.all({ now, limit });
    },
    /** All tasks (tests and invariant checks; not for request paths). */
    all(): TaskRow[] {
      return db.select().from(tasks).all();
    },
  };
}

export type TasksRepo = ReturnType<typeof tasksRepo>;
