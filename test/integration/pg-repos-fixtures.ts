/**
 * The repositories of both engines side by side, for the PostgreSQL parity and lock tests: the SQLite
 * ones (synchronous, wrapped into the async form the engine sees) on a temp file, and the PostgreSQL
 * ones on a fresh database of the test server. Row builders keep the scripts short.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type pg from 'pg';
import { openDb } from '../../src/db/client.ts';
import { adminRepo } from '../../src/db/repos/admin.ts';
import { deliveriesRepo, idempotencyRepo } from '../../src/db/repos/deliveries.ts';
import { elementsRepo } from '../../src/db/repos/elements.ts';
import { filesRepo } from '../../src/db/repos/files.ts';
import { healthRepo } from '../../src/db/repos/health.ts';
import { keysRepo } from '../../src/db/repos/keys.ts';
import { ledgerRepo } from '../../src/db/repos/ledger.ts';
import { sessionsRepo } from '../../src/db/repos/sessions.ts';
import { tasksRepo, type NewTask } from '../../src/db/repos/tasks.ts';
import type { Async, Repos } from '../../src/db/types.ts';
import type { DeliveryRow, FileRow, MirrorJobRow } from '../../src/db/schema/index.ts';
import { openPool } from '../../src/db/postgres/client.ts';
import type { Sql } from '../../src/db/postgres/sql.ts';
import { pgAdminRepo } from '../../src/db/postgres/repos/admin.ts';
import { pgDeliveriesRepo, pgIdempotencyRepo } from '../../src/db/postgres/repos/deliveries.ts';
import { pgElementsRepo } from '../../src/db/postgres/repos/elements.ts';
import { pgFilesRepo } from '../../src/db/postgres/repos/files.ts';
import { pgHealthRepo } from '../../src/db/postgres/repos/health.ts';
import { pgKeysRepo } from '../../src/db/postgres/repos/keys.ts';
import { pgLedgerRepo } from '../../src/db/postgres/repos/ledger.ts';
import { pgSessionsRepo } from '../../src/db/postgres/repos/sessions.ts';
import { pgTasksRepo } from '../../src/db/postgres/repos/tasks.ts';
import { createTestDatabase } from '../helpers/postgres-server.ts';

/** The repositories these tests cover. */
export type R = Pick<Repos, 'tasks' | 'keys' | 'ledger' | 'deliveries' | 'idempotency' | 'elements' | 'admin' | 'health' | 'sessions' | 'files'>;

/** A synchronous repository as the engine sees it: every method answers a promise (errors reject). */
function wrap<T extends object>(repo: T): Async<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(repo)) out[k] = typeof v === 'function' ? async (...args: unknown[]) => v(...args) : v;
  return out as Async<T>;
}

/** SQLite repositories on a migrated temp file. */
export function sqliteRepos(): { repos: R; close(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'rr-pg-parity-'));
  const handle = openDb(join(dir, 'parity.db'));
  const { db, sqlite } = handle;
  const repos: R = {
    tasks: wrap(tasksRepo(sqlite)),
    keys: wrap(keysRepo(db, sqlite)),
    ledger: wrap(ledgerRepo(db, sqlite)),
    deliveries: wrap(deliveriesRepo(db, sqlite)),
    idempotency: wrap(idempotencyRepo(db)),
    elements: wrap(elementsRepo(db)),
    admin: wrap(adminRepo(db)),
    health: wrap(healthRepo(db)),
    sessions: wrap(sessionsRepo(db)),
    files: wrap(filesRepo(sqlite)),
  };
  return { repos, close: () => (handle.close(), rmSync(dir, { recursive: true, force: true })) };
}

/** The PostgreSQL repositories over one `Sql` (the pool, or one transaction's client). */
export function pgRepos(sql: Sql): R {
  return {
    tasks: pgTasksRepo(sql),
    keys: pgKeysRepo(sql),
    ledger: pgLedgerRepo(sql),
    deliveries: pgDeliveriesRepo(sql),
    idempotency: pgIdempotencyRepo(sql),
    elements: pgElementsRepo(sql),
    admin: pgAdminRepo(sql),
    health: pgHealthRepo(sql),
    sessions: pgSessionsRepo(sql),
    files: pgFilesRepo(sql),
  };
}

/** A fresh migrated database on the test server, and a pool on it. */
export async function pgDatabase(max = 4): Promise<{ pool: pg.Pool; close(): Promise<void> }> {
  const db = await createTestDatabase(inject('pgUrl'));
  const pool = openPool(db.url, { max });
  return { pool, close: async () => (await pool.end(), await db.drop()) };
}

/** 2026-01-31 23:00 UTC: an hour before a day's and a month's end. */
export const NOW = Date.UTC(2026, 0, 31, 23, 0);
export const HOUR = 3_600_000;

export function key(id: string, createdAt: number, balanceMicros: number | null) {
  return { id, name: `key ${id}`, keyHash: `hash_${id}`, prefix: 'rr_test', webhookSecret: `whsec_${id}`, balanceMicros, createdAt };
}

export function task(id: string, keyId: string, over: Partial<NewTask> = {}): NewTask {
  return {
    id,
    keyId,
    model: 'video-fast',
    quality: 'standard',
    status: 'pending',
    request: '{"prompt":"a cat"}',
    billingRule: 'per_second',
    billableUnits: 5,
    unitPriceMicros: 100_000,
    listPriced: true,
    reservedMicros: 500_000,
    createdAt: NOW - HOUR,
    updatedAt: NOW - HOUR,
    ...over,
  };
}

export function delivery(id: string, url: string, nextAttemptAt: number | null, createdAt: number): DeliveryRow {
  return {
    id,
    taskId: 'task_1',
    keyId: 'key_a',
    url,
    event: 'task.completed',
    payload: `{"id":"${id}"}`,
    status: nextAttemptAt === null ? 'delivered' : 'pending',
    attempts: 0,
    nextAttemptAt,
    lastStatusCode: null,
    lastError: null,
    leaseOwner: null,
    createdAt,
    updatedAt: createdAt,
    deliveredAt: null,
  };
}

export function file(id: string, over: Partial<FileRow> = {}): FileRow {
  return {
    id,
    keyId: 'key_a',
    purpose: 'upload',
    token: `tok_${id}`,
    sha256: `sha_${id}`,
    bytes: 1234,
    contentType: 'video/mp4',
    durationS: null,
    width: null,
    height: null,
    taskId: null,
    upstreamUrl: null,
    createdAt: NOW - HOUR,
    expiresAt: NOW + HOUR,
    deletedAt: null,
    purgedAt: null,
    leaseOwner: null,
    leaseUntil: null,
    ...over,
  };
}

export function job(taskId: string, nextAt: number, over: Partial<MirrorJobRow> = {}): MirrorJobRow {
  return {
    taskId,
    attemptId: `att_${taskId}`,
    upstreamStatus: '{"status":"completed"}',
    outcome: null,
    fileIds: '[]',
    tries: 0,
    nextAt,
    lastError: null,
    leaseOwner: null,
    doneAt: null,
    createdAt: NOW - HOUR,
    updatedAt: NOW - HOUR,
    ...over,
  };
}

/** Rows sorted by a key (for reads whose order neither engine promises). */
export const byId = <T>(rows: T[], k: keyof T = 'id' as keyof T): T[] => [...rows].sort((a, b) => (String(a[k]) < String(b[k]) ? -1 : 1));
