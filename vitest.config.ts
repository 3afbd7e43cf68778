import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One real PostgreSQL per run (started here unless REELROUTE_TEST_PG_URL names one).
    globalSetup: ['test/helpers/postgres-global-setup.ts'],
  },
});
