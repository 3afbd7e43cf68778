/**
 * The PostgreSQL schema: table for table, column for column the SQLite one in src/db/schema (same
 * names, nullability, defaults, keys and index names; integers are bigint read as JS numbers,
 * booleans are boolean). test/unit/pg-schema-parity.test.ts holds the two together: a change to
 * src/db/schema needs the same change here and `npm run db:generate:postgres`.
 */
export * from './keys.ts';
export * from './tasks.ts';
export * from './ledger.ts';
export * from './delivery.ts';
export * from './admin.ts';
export * from './sessions.ts';
export * from './files.ts';
export * from './spend.ts';
export * from './health.ts';
