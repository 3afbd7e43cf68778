/**
 * A real PostgreSQL for the tests: `npm test` starts one server (test/helpers/postgres-global-setup.ts),
 * migrates a template database once, and each test file clones the template into a database of its
 * own (`createTestDatabase`), which takes a fraction of a second. The binaries are the machine's
 * (Debian's `postgresql`, which `.ci/run` installs when missing); without them the tests fail with
 * a clear message instead of skipping.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { migratePostgres, openPool } from '../../src/db/postgres/client.ts';

const run = promisify(execFile);

/** The database every test database is cloned from, migrated once per run. */
export const TEMPLATE_DB = 'reelroute_template';
/** The role initdb creates (superuser, trust authentication on 127.0.0.1 and the socket). */
const ROLE = 'reelroute';
/** Temp folders of our servers start with this; a folder whose owner process died is reaped. */
const DIR_PREFIX = 'rr-pg-';

interface Binaries {
  initdb: string;
  pgCtl: string;
}

/** initdb and pg_ctl of the highest version under /usr/lib/postgresql, else from PATH. */
function findBinaries(): Binaries {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const dirs = [...versions.map((v) => join(root, v, 'bin')), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  const bin = dirs.find((d) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(d, b))));
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin or on PATH. ' +
        'Install them (Debian: apt-get install postgresql; .ci/run does this) or point REELROUTE_TEST_PG_URL at a server.',
    );
  }
  return { initdb: join(bin, 'initdb'), pgCtl: join(bin, 'pg_ctl') };
}

/** PostgreSQL refuses to run as root: as root, run its binaries as the `postgres` OS user. */
function asServerUser(): { wrap: (cmd: string, args: string[]) => [string, string[]]; chown: (path: string) => void } {
  if (process.getuid?.() !== 0) return { wrap: (cmd, args) => [cmd, args], chown: () => {} };
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  const [uid, gid] = [id('-u'), id('-g')];
  return { wrap: (cmd, args) => ['runuser', ['-u', 'postgres', '--', cmd, ...args]], chown: (path) => chownSync(path, uid, gid) };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Stop servers of earlier runs that died without their teardown (their owner process is gone). */
async function reapStale(bins: Binaries, user: ReturnType<typeof asServerUser>): Promise<void> {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    // No owner file yet: another run is creating it right now (never touch it).
    const ownerFile = join(dir, 'owner.pid');
    if (!existsSync(ownerFile) || isAlive(Number(readFileSync(ownerFile, 'utf8')))) continue;
    const [cmd, args] = user.wrap(bins.pgCtl, ['stop', '-m', 'immediate', '-D', join(dir, 'data')]);
    await run(cmd, args).catch(() => {});
    // Best effort: another user's folder may not be ours to remove.
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A running server: the URL of its maintenance database, and how to stop it. */
export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

/** initdb, start on a free 127.0.0.1 port (durability off: test data need not survive a crash). */
export async function startPostgres(log: (line: string) => void = () => {}): Promise<TestPostgres> {
  const bins = findBinaries();
  const user = asServerUser();
  await reapStale(bins, user);
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  user.chown(dir);
  const data = join(dir, 'data');
  const exec = (cmd: string, args: string[]) => {
    const [c, a] = user.wrap(cmd, args);
    return run(c, a, { timeout: 60_000 }).catch((err: Error & { stderr?: string }) => {
      const logFile = join(dir, 'server.log');
      const serverLog = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}\n${serverLog}`);
    });
  };
  try {
    let t = performance.now();
    await exec(bins.initdb, ['-D', data, '-A', 'trust', '-U', ROLE, '--no-sync', '-E', 'UTF8', '--locale=C', '--no-instructions']);
    const initdbS = (performance.now() - t) / 1000;
    t = performance.now();
    const port = await freePort();
    const settings = [
      `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir}`,
      '-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300',
    ].join(' ');
    await exec(bins.pgCtl, ['start', '-w', '-t', '30', '-D', data, '-l', join(dir, 'server.log'), '-o', settings]);
    log(`postgres for tests: initdb ${initdbS.toFixed(2)} s, start ${((performance.now() - t) / 1000).toFixed(2)} s (${dir})`);
    return {
      url: `postgres://${ROLE}@127.0.0.1:${port}/postgres`,
      stop: async () => {
        await exec(bins.pgCtl, ['stop', '-m', 'immediate', '-D', data]).catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    const [c, a] = user.wrap(bins.pgCtl, ['stop', '-m', 'immediate', '-D', data]);
    await run(c, a).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `url` with its database replaced by `db`. */
export function databaseUrl(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function onAdmin<T>(baseUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** (Re)create the template database on the server at `baseUrl` and migrate it. */
export async function prepareTemplate(baseUrl: string): Promise<void> {
  await onAdmin(baseUrl, async (c) => {
    await c.query(`ALTER DATABASE ${TEMPLATE_DB} WITH IS_TEMPLATE false`).catch(() => {});
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  });
  const pool = openPool(databaseUrl(baseUrl, TEMPLATE_DB), { max: 1 });
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
  await onAdmin(baseUrl, (c) => c.query(`ALTER DATABASE ${TEMPLATE_DB} WITH IS_TEMPLATE true`));
}

/** A fresh, migrated database of its own for one test file; `drop` ends its connections and removes it. */
export async function createTestDatabase(baseUrl: string, opts: { template?: string } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const template = opts.template ?? TEMPLATE_DB;
  // FILE_COPY: a few files copied after a checkpoint (cheap with fsync off), not the template's pages through the WAL.
  await onAdmin(baseUrl, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}" STRATEGY FILE_COPY`));
  return {
    url: databaseUrl(baseUrl, name),
    drop: () => onAdmin(baseUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}
