/**
 * Group commit when SQLite rolls the whole transaction back on its own (here a real SQLITE_FULL from
 * `max_page_count` on a WAL file): no call of the batch may be written, none may resolve, and no
 * later call may autocommit alone (issue 8, suspected and confirmed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Gate, groupCommit } from '../../src/db/sqlite/store.ts';
import type { Repos } from '../../src/db/types.ts';

let dir: string;
let db: Database.Database;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-full-'));
  db = new Database(join(dir, 'db.sqlite'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (x BLOB)');
  db.exec("INSERT INTO t VALUES ('base')");
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a batch whose transaction SQLite rolled back fails whole: nothing written, nothing autocommitted', async () => {
  const batch = groupCommit(db, new Gate(), {} as Repos);
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  const huge = db.prepare('INSERT INTO t VALUES (randomblob(200000))');
  db.pragma(`max_page_count = ${(db.pragma('page_count', { simple: true }) as number) + 4}`);

  const results = await Promise.allSettled([
    batch(async () => insert.run('before')),
    batch(async () => huge.run()), // SQLITE_FULL: SQLite drops the whole transaction
    batch(async () => insert.run('after')),
  ]);
  expect(db.prepare('SELECT x FROM t').pluck().all()).toEqual(['base']);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
  expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_FULL' });
  expect(db.inTransaction).toBe(false);

  // The store is usable again once there is room.
  db.pragma('max_page_count = 1073741823');
  await expect(batch(async () => insert.run('later'))).resolves.toBeDefined();
  expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(2);
});
