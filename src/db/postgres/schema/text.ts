import { customType } from 'drizzle-orm/pg-core';

/**
 * A text column that compares byte by byte (`COLLATE "C"`), as SQLite's BINARY collation does:
 * cursors (`id < ?`), `ORDER BY` on names and unique keys then behave the same on both engines
 * whatever locale the PostgreSQL database was created with. Enum columns add `.$type<…>()`.
 */
export const text = customType<{ data: string; driverData: string }>({ dataType: () => 'text COLLATE "C"' });
