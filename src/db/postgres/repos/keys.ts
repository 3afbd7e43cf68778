/** API key rows on PostgreSQL: the same answers as src/db/repos/keys.ts; `forUpdate` locks the row. */
import { apiKeys } from '../../schema/index.ts';
import type { ApiKeyPatch, KeysRepo, NewApiKey } from '../../repos/keys.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const k = pgTable(apiKeys, 'id');
const BY_HASH = `${k.selectSql} WHERE "key_hash" = $1`;
const BY_ID = `${k.selectSql} WHERE "id" = $1`;
const FOR_UPDATE = `${BY_ID} FOR UPDATE`;
const LIST = `${k.selectSql} ORDER BY "created_at" DESC, "id" DESC`;
// A post-paid key's null balance stays null (null + delta is null), as on SQLite.
const ADD_BALANCE = 'UPDATE "api_keys" SET "balance_micros" = "balance_micros" + $1 WHERE "id" = $2';

export function pgKeysRepo(sql: Sql): Async<KeysRepo> {
  return {
    insert: (row: NewApiKey) => k.insert(sql, row),
    byHash: (hash: string) => k.get(sql, BY_HASH, [hash]),
    byId: (id: string) => k.get(sql, BY_ID, [id]),
    /** The key, locked until the transaction ends: concurrent holds on two replicas run one after the other. */
    forUpdate: (id: string) => k.get(sql, FOR_UPDATE, [id]),
    list: () => k.all(sql, LIST, []),
    patch: (id: string, patch: ApiKeyPatch) => k.update(sql, id, patch),
    addBalance: async (id: string, delta: number) => {
      await sql.exec(ADD_BALANCE, [delta, id]);
    },
  };
}
