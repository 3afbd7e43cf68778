import { defineConfig } from 'vitest/config';

/** Integration files that test SQLite itself (its file, its crash drill) rather than the store's behaviour. */
const SQLITE_ONLY = ['test/integration/crash.test.ts', 'test/integration/drill.test.ts', 'test/integration/files-crash.test.ts', 'test/integration/db-copy.test.ts'];

/** Several replicas on one database: PostgreSQL only. */
const POSTGRES_ONLY = ['test/integration/replicas.test.ts', 'test/integration/drill-replicas.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One real PostgreSQL per run (started here unless REELROUTE_TEST_PG_URL names one).
    globalSetup: ['test/helpers/postgres-global-setup.ts'],
    projects: [
      // Everything, on the embedded default (SQLite).
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: [...POSTGRES_ONLY] } },
      // The integration suite again, every gateway on PostgreSQL (test/helpers/gateway.ts).
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...SQLITE_ONLY, 'test/integration/pg-*.test.ts'],
          env: { REELROUTE_TEST_DB: 'postgres' },
        },
      },
    ],
  },
});
