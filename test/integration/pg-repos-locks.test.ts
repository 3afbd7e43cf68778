/**
 * Replica safety of the PostgreSQL repositories: claims made at the same moment on two connections
 * never hand out the same row, a claim skips rows another one holds instead of waiting for it, the
 * FOR UPDATE reads make a second transaction wait for the first one's commit, and of two racing
 * Idempotency-Key takers only one takes the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { clientSql, poolSql } from '../../src/db/postgres/client.ts';
import { delivery, file, HOUR, job, key, NOW, pgDatabase, pgRepos, task, type R } from './pg-repos-fixtures.ts';

const LEASE = 30_000;
let db: Awaited<ReturnType<typeof pgDatabase>>;
let pool: R;

beforeAll(async () => {
  db = await pgDatabase(6);
  pool = pgRepos(poolSql(db.pool));
  await pool.keys.insert(key('key_a', NOW - HOUR, 1_000_000));
  await pool.keys.insert(key('key_b', NOW - HOUR, null));
});
/** Transactions a failed test left open: rolled back, so the pool can close. */
const open = new Set<() => Promise<void>>();
afterAll(async () => {
  for (const rollback of open) await rollback().catch(() => {});
  await db?.close();
});

/** A transaction on a connection of its own; waiting for a row lock longer than 3 s is an error, not a hang. */
async function begin() {
  const client = await db.pool.connect();
  await client.query('BEGIN');
  await client.query("SET LOCAL lock_timeout = '3s'");
  const end = async (how: 'COMMIT' | 'ROLLBACK') => {
    open.delete(rollback);
    await client.query(how).finally(() => client.release());
  };
  const rollback = () => end('ROLLBACK');
  open.add(rollback);
  return { pid: (client as pg.PoolClient & { processID: number }).processID, repos: pgRepos(clientSql(client)), commit: () => end('COMMIT'), rollback };
}

/** Resolves once the backend `pid` is waiting for a lock (observed, not guessed with a sleep); throws if it never does. */
async function waitingOnLock(pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const row = await poolSql(db.pool).row<{ w: string | null }>('SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1', [pid]);
    if (row?.w === 'Lock') return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`backend ${pid} never waited for a lock`);
}

/** Two claimers at once, round after round until nothing is left: every row is handed out exactly once. */
async function claimTogether(claim: (owner: string) => Promise<{ id: string }[]>, expected: number) {
  const seen: string[] = [];
  for (let round = 0; round < 100; round++) {
    const [a, b] = await Promise.all([claim('replica-a'), claim('replica-b')]);
    if (a.length === 0 && b.length === 0) break;
    seen.push(...a.map((r) => r.id), ...b.map((r) => r.id));
  }
  expect(new Set(seen).size).toBe(seen.length);
  expect(seen).toHaveLength(expected);
}

describe('claims on two connections at once', () => {
  it('tasks.claimDue hands out each due task once, per provider limit kept', async () => {
    const providers = [null, 'kling', 'fal', 'runway'];
    for (let i = 0; i < 160; i++) {
      await pool.tasks.insertTask(task(`task_c${String(i).padStart(3, '0')}`, 'key_a', { provider: providers[i % 4], nextPollAt: NOW - 1_000 - i }));
    }
    await claimTogether(async (owner) => {
      const rows = await pool.tasks.claimDue(NOW, 7, owner, LEASE);
      const perProvider = new Map<string | null, number>();
      for (const r of rows) perProvider.set(r.provider, (perProvider.get(r.provider) ?? 0) + 1);
      expect(Math.max(0, ...perProvider.values())).toBeLessThanOrEqual(7);
      return rows;
    }, 160);
  });

  it('deliveries.claimDue hands out each due delivery once', async () => {
    for (let i = 0; i < 120; i++) {
      await pool.deliveries.insert(delivery(`dlv_c${String(i).padStart(3, '0')}`, `https://host${i % 5}.example/hook`, NOW - 1_000 - i, NOW - i));
    }
    await claimTogether((owner) => pool.deliveries.claimDue(NOW, 3, 8, owner, LEASE), 120);
  });

  it('files.claimJobs and files.claimExpired hand out each row once', async () => {
    for (let i = 0; i < 80; i++) {
      const id = String(i).padStart(3, '0');
      await pool.files.insertJob(job(`task_j${id}`, NOW - 1_000 - i));
      await pool.files.insert(file(`file_c${id}`, { expiresAt: NOW - 1_000 - i }));
    }
    await claimTogether(async (owner) => (await pool.files.claimJobs(NOW, 6, owner, LEASE)).map((j) => ({ id: j.taskId })), 80);
    await claimTogether((owner) => pool.files.claimExpired(NOW, 6, owner, LEASE), 80);
  });
});

describe('a claim skips what an open claim holds, without waiting', () => {
  // Only this block's rows are due: the leases handed out above would be due again by now.
  beforeAll(async () => {
    const sql = poolSql(db.pool);
    await sql.exec('UPDATE "tasks" SET "next_poll_at" = NULL');
    await sql.exec('UPDATE "callback_deliveries" SET "next_attempt_at" = NULL');
    await sql.exec('UPDATE "mirror_jobs" SET "done_at" = 0');
  });

  it('tasks: the second claimer takes the next ones of each provider; after the first commits, nothing is due', async () => {
    for (let i = 0; i < 6; i++) {
      await pool.tasks.insertTask(task(`task_s${i}`, 'key_b', { provider: i % 2 ? 'skip-p' : 'skip-q', nextPollAt: NOW + HOUR + i }));
    }
    const at = NOW + 2 * HOUR;
    const a = await begin();
    const first = await a.repos.tasks.claimDue(at, 2, 'replica-a', LEASE);
    const b = await begin(); // waiting for a's rows (no SKIP LOCKED) would end in its lock timeout
    const second = await b.repos.tasks.claimDue(at, 2, 'replica-b', LEASE);
    await b.commit();
    await a.commit();
    expect(first.map((r) => r.id)).toStrictEqual(['task_s1', 'task_s3', 'task_s0', 'task_s2']);
    expect(second.map((r) => r.id)).toStrictEqual(['task_s5', 'task_s4']);
    expect(await pool.tasks.claimDue(at, 10, 'replica-c', LEASE)).toStrictEqual([]);
    expect([(await pool.tasks.get('task_s0'))?.leaseOwner, (await pool.tasks.get('task_s4'))?.leaseOwner]).toStrictEqual(['replica-a', 'replica-b']);
  });

  it('deliveries, mirror jobs and expired files: rows held by an open claim are skipped', async () => {
    const at = NOW + 3 * HOUR;
    await pool.deliveries.insert(delivery('dlv_s1', 'https://skip.example/a', at - 2, at));
    await pool.deliveries.insert(delivery('dlv_s2', 'https://skip.example/b', at - 1, at));
    await pool.files.insertJob(job('task_sj1', at - 2));
    await pool.files.insertJob(job('task_sj2', at - 1));
    const a = await begin();
    expect((await a.repos.deliveries.claimDue(at, 1, 10, 'replica-a', LEASE)).map((r) => r.id)).toStrictEqual(['dlv_s1']);
    expect((await a.repos.files.claimJobs(at, 1, 'replica-a', LEASE)).map((r) => r.taskId)).toStrictEqual(['task_sj1']);
    // The fair pick chooses dlv_s1 again, finds it held and skips it: nothing this time, dlv_s2 next time.
    const b = await begin();
    expect(await b.repos.deliveries.claimDue(at, 1, 10, 'replica-b', LEASE)).toStrictEqual([]);
    expect((await b.repos.files.claimJobs(at, 5, 'replica-b', LEASE)).map((r) => r.taskId)).toStrictEqual(['task_sj2']);
    await b.commit();
    await a.commit();
    expect((await pool.deliveries.claimDue(at, 1, 10, 'replica-b', LEASE)).map((r) => r.id)).toStrictEqual(['dlv_s2']);
  });
});

describe('FOR UPDATE reads and the idempotency race', () => {
  it('keys.forUpdate waits for the transaction holding the key and then reads its committed balance', async () => {
    const a = await begin();
    const b = await begin();
    expect((await a.repos.keys.forUpdate('key_a'))?.balanceMicros).toBe(1_000_000);
    // Not awaited here: it cannot answer before a commits (awaiting it now would deadlock the test).
    const waiting = b.repos.keys.forUpdate('key_a');
    await waitingOnLock(b.pid);
    await a.repos.keys.addBalance('key_a', -250_000);
    await a.commit();
    expect((await waiting)?.balanceMicros).toBe(750_000);
    await b.commit();
  });

  it('tasks.getForUpdate waits for the transaction holding the task and then reads its committed state', async () => {
    await pool.tasks.insertTask(task('task_lock', 'key_a'));
    const a = await begin();
    const b = await begin();
    await a.repos.tasks.getForUpdate('task_lock');
    const waiting = b.repos.tasks.getForUpdate('task_lock'); // not awaited: it waits for a's commit
    await waitingOnLock(b.pid);
    await a.repos.tasks.update('task_lock', { status: 'cancelled', finishedAt: NOW });
    await a.commit();
    expect((await waiting)?.status).toBe('cancelled');
    await b.commit();
  });

  it('idempotency.put: the later of two racing takers waits, then loses to the committed one (or wins after a rollback)', async () => {
    const row = { keyId: 'key_a', idemKey: 'race', requestHash: 'h', taskId: 'task_x', statusCode: null, response: null, createdAt: NOW };
    for (const outcome of ['COMMIT', 'ROLLBACK'] as const) {
      const idemKey = `race-${outcome}`;
      const a = await begin();
      const b = await begin();
      expect(await a.repos.idempotency.put({ ...row, idemKey }, NOW - 24 * HOUR)).toBe(true);
      // Not awaited here: it waits for a's commit or rollback.
      const later = b.repos.idempotency.put({ ...row, idemKey, taskId: 'task_y' }, NOW - 24 * HOUR);
      await waitingOnLock(b.pid);
      await (outcome === 'COMMIT' ? a.commit() : a.rollback());
      expect(await later).toBe(outcome === 'ROLLBACK');
      await b.commit();
      expect((await pool.idempotency.get('key_a', idemKey))?.taskId).toBe(outcome === 'COMMIT' ? 'task_x' : 'task_y');
    }
  });
});
