/**
 * `npm run db:copy`: a real gateway's SQLite database (completed, failed-over, failed, cancelled and
 * still running tasks, a credit, an admin change) copied into fresh PostgreSQL databases, once as a
 * user runs it (the script through tsx, a child process) and once through its exported function;
 * then the PostgreSQL store must answer what the SQLite one did. SQLite-only project (vitest.config):
 * it makes its own PostgreSQL databases, whatever engine the gateway would use.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyRefused, copySqliteToPostgres } from '../../scripts/db-copy.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import { packagePath } from '../../src/paths.ts';
import { ADMIN_KEY, expectLedgerInvariants, startGateway } from '../helpers/gateway.ts';
import { createTestDatabase } from '../helpers/postgres-server.ts';
import { MP4 } from './files-fixtures.ts';

const run = promisify(execFile);
const PRICE = { '720p': 0.1, '1080p': 0.2 };
const SPEND_SQL = 'SELECT * FROM spend_daily WHERE tasks <> 0 OR reserved_micros <> 0 OR charged_micros <> 0 OR refunded_micros <> 0 ORDER BY day, key_id, model, provider';

const dir = mkdtempSync(join(tmpdir(), 'reelroute-db-copy-'));
const source = join(dir, 'reelroute.db');
const dbs: { url: string; drop(): Promise<void> }[] = [];

/** A fresh, empty (not migrated) PostgreSQL database: db:copy migrates it itself. */
async function emptyDatabase(): Promise<string> {
  const db = await createTestDatabase(process.env.REELROUTE_TEST_PG_URL!, { template: 'template0' });
  dbs.push(db);
  return db.url;
}

async function pgRows(url: string, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  // The gateway on SQLite whatever REELROUTE_TEST_DB says: the copy's source must be a SQLite file.
  const engine = process.env.REELROUTE_TEST_DB;
  delete process.env.REELROUTE_TEST_DB;
  const gw = await startGateway({ providers: [{ id: 'fal-main', type: 'fal', price: PRICE }, { id: 'fal-spare', type: 'fal', price: PRICE, priority: 10 }] });
  if (engine !== undefined) process.env.REELROUTE_TEST_DB = engine;
  try {
    const prepaid = await gw.createKey({ name: 'prepaid', balance_usd: 3 });
    expect((await gw.call('POST', `/admin/keys/${prepaid.id}/credit`, { body: { amount_usd: 2, note: 'top-up' }, key: ADMIN_KEY })).status).toBe(200);
    const fal = gw.emulators['fal-main']!.state;
    fal.outputDurationS = 4; // 6 s asked, 4 produced: a partial refund
    fal.submitFaults.push({ kind: 'status', status: 503 }); // the first task fails over to fal-spare
    fal.fates.push({ outcome: 'fail', message: 'face not found', providerSide: false }); // input-side: fails, no failover
    const ids: [string, string | undefined][] = [];
    for (const [seconds, key] of [[6, prepaid.key], [5, prepaid.key], [6, undefined], [5, undefined]] as const) {
      const res = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(seconds), ...(key ? { key } : {}) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      ids.push([res.body.id, key]);
    }
    // A stored upload (files), a replayable create (idempotency_keys) and a callback (callback_deliveries).
    gw.runtime.files.files.useLoopbackBase(gw.url);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(MP4(5.4))]), 'clip.mp4');
    const uploaded = await fetch(`${gw.url}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${prepaid.key}` } });
    expect(uploaded.status, await uploaded.text()).toBe(200);
    const hooked = { body: gw.motion(5, { callback_url: 'http://127.0.0.1:9/hook' }), key: prepaid.key, headers: { 'idempotency-key': 'once' } };
    const withHook = await gw.call('POST', '/v1/videos/generations', hooked);
    expect(withHook.status).toBe(200);
    ids.push([withHook.body.id, prepaid.key]);
    const cancelled = await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key: prepaid.key });
    expect((await gw.call('POST', `/v1/tasks/${cancelled.body.id}/cancel`, { key: prepaid.key })).status).toBe(200);
    for (const [id, key] of ids) await gw.settle(id, key);
    // Left running: a stopped gateway's in-flight task is copied as it stands.
    expect((await gw.call('POST', '/v1/videos/generations', { body: gw.motion(5), key: prepaid.key })).status).toBe(200);
    expect((await gw.call('PATCH', '/admin/providers/fal-spare', { body: { priority: 5 }, key: ADMIN_KEY })).status).toBe(200);
    const statuses = (await gw.store.tasks.all()).map((t) => t.status).sort();
    expect(statuses).toEqual(expect.arrayContaining(['cancelled', 'completed', 'failed']));
    // What a backup of the stopped gateway holds: one consistent copy of the file.
    const db = new Database(gw.dbPath);
    db.exec(`VACUUM INTO '${source}'`);
    db.close();
  } finally {
    await gw.close();
  }
});

afterAll(async () => {
  for (const db of dbs) await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('db:copy', () => {
  let lite: Store;
  beforeAll(async () => {
    lite = await openStore(source);
  });
  afterAll(() => lite.close());

  /** The PostgreSQL store answers what the SQLite one does: tasks, keys, balances, ledger, rollup. */
  async function expectSameData(url: string): Promise<void> {
    const copy = await openStore(url);
    try {
      const tasks = await lite.tasks.all();
      expect(tasks.length).toBe(7);
      expect(await copy.tasks.all()).toEqual(tasks);
      const keys = await lite.keys.list();
      expect(await copy.keys.list()).toEqual(keys);
      for (const k of keys) expect(await copy.ledger.balanceOf(k.id)).toBe(await lite.ledger.balanceOf(k.id));
      const ids = tasks.map((t) => t.id);
      expect(await copy.ledger.totalsByTask(ids)).toEqual(await lite.ledger.totalsByTask(ids));
      expect(await copy.admin.listAudit(100)).toEqual(await lite.admin.listAudit(100));
      const range = { from: '2000-01-01', to: '9999-12-31' };
      const report = await copy.spend.report(range, ['day', 'key', 'model', 'provider']);
      expect(report).toEqual(await lite.spend.report(range, ['day', 'key', 'model', 'provider']));
      expect(report.totals.chargedMicros).toBeGreaterThan(0);
      await expectLedgerInvariants(copy);
      // The rollup PostgreSQL's triggers rebuilt, row for row (rows summing to zero carry nothing).
      const sqlite = new Database(source, { readonly: true });
      const liteSpend = sqlite.prepare(SPEND_SQL).all();
      sqlite.close();
      expect(liteSpend.length).toBeGreaterThan(0);
      expect((await pgRows(url, SPEND_SQL)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v])))).toEqual(liteSpend);
    } finally {
      await copy.close();
    }
  }

  it('copies through the command line, and a second copy into the same database is refused', async () => {
    const url = await emptyDatabase();
    const tsx = packagePath('node_modules/.bin/tsx');
    const out = await run(tsx, [packagePath('scripts/db-copy.ts'), '--from', source, '--to', url], { timeout: 60_000 });
    expect(out.stdout).toMatch(/^db:copy: \d+ rows from .*\(api_keys 2, tasks 7, attempts \d+, ledger_entries \d+, elements 0, callback_deliveries [1-9]\d*, idempotency_keys 1, provider_overrides 1, audit_log \d+, dashboard_sessions 0, files [1-9]\d*, mirror_jobs [1-9]\d*, provider_health \d+\); verified row counts, 2 key balances/);
    expect(out.stdout.trim().split('\n')).toHaveLength(1);
    await expectSameData(url);

    const again = await run(tsx, [packagePath('scripts/db-copy.ts'), '--from', source, '--to', url], { timeout: 60_000 }).catch((e) => e);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/target database is not empty \(api_keys: 2, tasks: 7/);
    await expect(copySqliteToPostgres({ from: source, to: url })).rejects.toThrow(CopyRefused);
    await expectSameData(url);
  });

  it('commits nothing when the rollup does not match, and otherwise continues the id sequences', async () => {
    const url = await emptyDatabase();
    const tampered = join(dir, 'tampered.db');
    const db = new Database(source);
    db.exec(`VACUUM INTO '${tampered}'`);
    db.close();
    const t = new Database(tampered);
    // Bypasses the triggers: the rollup no longer sums its tasks.
    t.exec("UPDATE spend_daily SET charged_micros = charged_micros + 1 WHERE rowid = (SELECT min(rowid) FROM spend_daily WHERE tasks > 0)");
    t.close();
    await expect(copySqliteToPostgres({ from: tampered, to: url })).rejects.toThrow(/does not match its source, nothing was committed: spend_daily/);
    expect(await pgRows(url, 'SELECT count(*)::int AS n FROM tasks')).toEqual([{ n: 0 }]);

    // Two rows per statement: many batches per table.
    const summary = await copySqliteToPostgres({ from: source, to: url, batchSize: 2 });
    expect(summary.rows).toMatchObject({ api_keys: 2, tasks: 7 });
    expect(summary.rows).not.toHaveProperty('spend_daily');
    await expectSameData(url);
    const { ledger, audit } = (await pgRows(url, 'SELECT max(id)::int AS ledger, (SELECT max(id)::int FROM audit_log) AS audit FROM ledger_entries'))[0] as { ledger: number; audit: number };
    const [next] = await pgRows(url, `INSERT INTO audit_log (at, action, target) VALUES (0, 'test', 'x') RETURNING id::int`);
    expect(next).toEqual({ id: audit + 1 });
    const key = (await lite.keys.list())[0]!.id;
    const [entry] = await pgRows(url, `INSERT INTO ledger_entries (key_id, kind, amount_micros, balance_delta_micros, created_at) VALUES ('${key}', 'credit', 1, 1, 0) RETURNING id::int`);
    expect(entry).toEqual({ id: ledger + 1 });
  });

  it('refuses a target that is not a PostgreSQL URL and a source that does not exist', async () => {
    await expect(copySqliteToPostgres({ from: source, to: join(dir, 'other.db') })).rejects.toThrow(/--to must be a postgres/);
    await expect(copySqliteToPostgres({ from: join(dir, 'missing.db'), to: 'postgres://127.0.0.1:1/x' })).rejects.toThrow(/no SQLite database at/);
  });
});
