/**
 * Database preparation, done in the parent before a gateway child opens the file: migrate, create
 * the post-paid bench key, and bulk-insert task rows in one transaction through one prepared
 * INSERT per table, built from the drizzle schema's own column metadata (names, defaults, driver
 * mapping) — so it follows the real schema, at a fraction of the cost of drizzle's per-call query
 * building.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import { openDb } from '../../src/db/client.ts';
import { attempts, ledgerEntries, tasks } from '../../src/db/schema/index.ts';
import { openStore } from '../../src/db/store.ts';
import { createKey } from '../../src/keys/keys.ts';
import { PROVIDER_ID, UNITS, UNIT_MICROS } from './constants.ts';

export interface PreparedDb {
  dir: string;
  path: string;
  keyId: string;
  /** The API key in clear (Authorization: Bearer …). */
  apiKey: string;
}

/** A fresh SQLite file in a temp dir, migrated, with one post-paid key (no balance). */
export async function prepareDb(label: string): Promise<PreparedDb> {
  const dir = mkdtempSync(join(tmpdir(), `reelroute-bench-${label}-`));
  const path = join(dir, 'reelroute.db');
  const store = await openStore(path);
  const { row, key } = await createKey(store, { name: `bench-${label}`, balanceMicros: null, dailyBudgetMicros: null, monthlyBudgetMicros: null }, Date.now());
  await store.close();
  return { dir, path, keyId: row.id, apiKey: key };
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
let pool = Buffer.alloc(0);
let poolAt = 0;

/** Same format as src/ids.ts newId (`prefix_<time36><12 random base36>`), drawing from a pooled random buffer. */
function fastId(prefix: string, now: number): string {
  if (poolAt + 12 > pool.length) {
    pool = randomBytes(64 * 1024);
    poolAt = 0;
  }
  let rand = '';
  for (let i = 0; i < 12; i++) rand += ALPHABET[pool[poolAt++]! % 36];
  return `${prefix}_${now.toString(36).padStart(9, '0')}${rand}`;
}

/** A prepared single-row INSERT for a drizzle table; rows use the schema's property names. */
function inserter<T extends Table>(sqlite: Database.Database, table: T): (row: T['$inferInsert']) => void {
  const cols = Object.entries(getTableColumns(table));
  const names = cols.map(([, c]) => `"${c.name}"`).join(', ');
  const stmt = sqlite.prepare(`insert into "${getTableName(table)}" (${names}) values (${cols.map(() => '?').join(', ')})`);
  return (row) => {
    const values = cols.map(([key, c]) => {
      let v = (row as Record<string, unknown>)[key];
      if (v === undefined) v = c.default ?? null;
      return v === null ? null : c.mapToDriverValue(v);
    });
    stmt.run(values);
  };
}

export interface BulkOptions {
  count: number;
  /** completed: finished tasks (status bench); inflight: pending at the emulator, due for polling now. */
  state: 'completed' | 'inflight';
  /** Upstream id of task i is `${upstreamPrefix}${i}` (matching emulator tasks for inflight). */
  upstreamPrefix: string;
}

/** Where generated rows go: one callback per table (rows use the drizzle schema's property names). */
export interface RowSink {
  task(row: typeof tasks.$inferInsert): void;
  attempt(row: typeof attempts.$inferInsert): void;
  ledger(row: typeof ledgerEntries.$inferInsert): void;
}

/**
 * Generate `count` tasks (+ one attempt and the hold ledger row each, and the charge row when
 * completed) for `keyId` into `sink`, the same rows for either engine. Returns the task ids.
 */
export function generateTasks(keyId: string, o: BulkOptions, sink: RowSink): string[] {
  const now = Date.now();
  const ids: string[] = new Array(o.count);
  const reserved = UNIT_MICROS * UNITS;
  const request = JSON.stringify({
    model: 'kling-v3-motion-control',
    imageUrl: 'http://127.0.0.1:1/img.png',
    videoUrl: 'http://127.0.0.1:1/v/5.mp4',
    quality: '720p',
    orientation: 'image',
    keepOriginalSound: true,
  });
  const done = o.state === 'completed';
  for (let i = 0; i < o.count; i++) {
    const created = now - (o.count - i); // distinct, increasing creation times
    const id = fastId('task', created);
    ids[i] = id;
    sink.task({
      id,
      keyId,
      model: 'kling-v3-motion-control',
      quality: '720p',
      status: done ? 'completed' : 'pending',
      progress: done ? 100 : 0,
      request,
      billingRule: 'per_second',
      billableUnits: UNITS,
      unitPriceMicros: UNIT_MICROS,
      listPriced: false,
      reservedMicros: reserved,
      chargedMicros: done ? reserved : 0,
      upstreamCostMicros: done ? reserved : 0,
      provider: PROVIDER_ID,
      results: done ? JSON.stringify([`http://127.0.0.1:1/__files/${o.upstreamPrefix}${i}.mp4`]) : null,
      nextPollAt: done ? null : now,
      createdAt: created,
      updatedAt: created,
      finishedAt: done ? created : null,
    });
    sink.attempt({
      id: fastId('att', created),
      taskId: id,
      seq: 1,
      providerId: PROVIDER_ID,
      upstreamId: `${o.upstreamPrefix}${i}`,
      status: done ? 'completed' : 'pending',
      unitCostMicros: UNIT_MICROS,
      createdAt: created,
      updatedAt: created,
    });
    sink.ledger({ keyId, taskId: id, kind: 'hold', amountMicros: reserved, balanceDeltaMicros: -reserved, createdAt: created });
    if (done) sink.ledger({ keyId, taskId: id, kind: 'charge', amountMicros: reserved, balanceDeltaMicros: 0, createdAt: created });
  }
  return ids;
}

/** Insert `count` tasks (+ one attempt and the hold ledger row each) into the SQLite file. Returns the task ids. */
export function bulkInsertTasks(db: PreparedDb, o: BulkOptions): string[] {
  const handle = openDb(db.path);
  const sink: RowSink = { task: inserter(handle.sqlite, tasks), attempt: inserter(handle.sqlite, attempts), ledger: inserter(handle.sqlite, ledgerEntries) };
  const ids = handle.sqlite.transaction(() => generateTasks(db.keyId, o, sink)).immediate();
  handle.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  handle.sqlite.exec('ANALYZE');
  handle.close();
  return ids;
}
