/**
 * vitest globalSetup: one real PostgreSQL for the whole run (see postgres-server.ts), or the server
 * REELROUTE_TEST_PG_URL names. Test files read its URL with `inject('pgUrl')`; child processes
 * (gateways spawned by tests) find it in REELROUTE_TEST_PG_URL.
 */
import type { TestProject } from 'vitest/node';
import { prepareTemplate, startPostgres, type TestPostgres } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the test server's maintenance database; `createTestDatabase(inject('pgUrl'))` makes one per file. */
    pgUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let server: TestPostgres | undefined;
  if (!process.env.REELROUTE_TEST_PG_URL) {
    server = await startPostgres(log);
    process.env.REELROUTE_TEST_PG_URL = server.url;
  }
  const url = process.env.REELROUTE_TEST_PG_URL;
  try {
    const t = performance.now();
    await prepareTemplate(url);
    log(`postgres for tests: template migrated in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  } catch (err) {
    await server?.stop();
    throw err;
  }
  project.provide('pgUrl', url);
  return async () => {
    await server?.stop();
  };
}
