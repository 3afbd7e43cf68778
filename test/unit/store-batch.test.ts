import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/db/store.ts';
import { createKey } from '../../src/keys/keys.ts';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-batch-'));
  store = await openStore(join(dir, 'db.sqlite'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

it('group commit: calls of one turn commit together, a throwing call rolls back only itself', async () => {
  const key = (await createKey(store, { name: 'k', balanceMicros: 0, dailyBudgetMicros: null, monthlyBudgetMicros: null }, 1)).row;
  const results = await Promise.allSettled([
    store.batch((tx) => tx.keys.addBalance(key.id, 5)),
    store.batch(async (tx) => {
      await tx.keys.addBalance(key.id, 100);
      throw new Error('no');
    }),
    store.batch(async (tx) => {
      await tx.keys.addBalance(key.id, 7);
      return 'ok';
    }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect((results[2] as PromiseFulfilledResult<string>).value).toBe('ok');
  expect((await store.keys.byId(key.id))!.balanceMicros).toBe(12);
});

it('a call on the store waits while a transaction is open: it never reads half of it or joins it', async () => {
  const key = (await createKey(store, { name: 'k', balanceMicros: 0, dailyBudgetMicros: null, monthlyBudgetMicros: null }, 1)).row;
  let inside = 0;
  const seen: number[] = [];
  const tx = store.transaction(async (t) => {
    await t.keys.addBalance(key.id, 5);
    // Another caller reads now (its promise chain runs while this transaction is open) …
    seen.push(-1);
    await new Promise((r) => setImmediate(r));
    inside = (await t.keys.byId(key.id))!.balanceMicros!;
    await t.keys.addBalance(key.id, 5);
    throw new Error('rolled back');
  });
  const outside = store.keys.byId(key.id).then((row) => seen.push(row!.balanceMicros!));
  await expect(tx).rejects.toThrow('rolled back');
  await outside;
  expect(inside).toBe(5);
  // … and got the state after the rollback, not the 5 or 10 written inside.
  expect(seen).toEqual([-1, 0]);
});
