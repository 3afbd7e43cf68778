/** Element id mappings on PostgreSQL: the same answers as src/db/repos/elements.ts. */
import { elements, type ElementRow } from '../../schema/index.ts';
import type { ElementsRepo } from '../../repos/elements.ts';
import type { Async } from '../../types.ts';
import type { Sql } from '../sql.ts';
import { pgTable } from '../table.ts';

const e = pgTable(elements, 'id');
const BY_ID = `${e.selectSql} WHERE "id" = $1`;

export function pgElementsRepo(sql: Sql): Async<ElementsRepo> {
  return {
    insert: (row: ElementRow) => e.insert(sql, row),
    get: (id: string) => e.get(sql, BY_ID, [id]),
  };
}
