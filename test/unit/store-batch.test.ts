import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/db/store.ts';
import { createKey } from '../../src/keys/keys.ts';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'reelroute-batch-'));
  store = openStore(join(dir, 'db.sqlite'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

it('group commit: calls of one turn commit together, a throwing call rolls back only itself', async () => {
  const key = createKey(store, { name: 'k', balanceMicros: 0, dailyBudgetMicros: null, monthlyBudgetMicros: null }, 1).row;
  const results = await Promise.allSettled([
    store.batch(() => store.keys.addBalance(key.id, 5)),
    store.batch(() => {
      store.keys.addBalance(key.id, 100);
      throw new Error('no');
    }),
    store.batch(() => {
      store.keys.addBalance(key.id, 7);
      return 'ok';
    }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect((results[2] as PromiseFulfilledResult<string>).value).toBe('ok');
  expect(store.keys.byId(key.id)!.balanceMicros).toBe(12);
});
