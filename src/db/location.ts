/**
 * Where the database lives, from `REELROUTE_DB`. Only SQLite files exist today: a plain path, or a
 * `file:` URL. Any other URL scheme is refused at start instead of silently becoming a SQLite file
 * named after the URL (`postgres:/…` inside the checkout).
 */
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config.ts';

export const DEFAULT_DB_PATH = './data/reelroute.db';

/** The SQLite file path for a `REELROUTE_DB` value (default when unset or empty). */
export function sqlitePath(value: string | undefined): string {
  if (value === undefined || value.trim() === '') return DEFAULT_DB_PATH;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  // One letter before the colon is a Windows drive (C:\…), not a scheme.
  if (scheme === undefined || scheme.length === 1) return value;
  if (scheme === 'file') return fileURLToPath(value);
  const hint = scheme.startsWith('postgres')
    ? 'PostgreSQL is not supported yet'
    : `the ${scheme}: scheme is not a database reelroute can use`;
  throw new ConfigError(`REELROUTE_DB: ${hint}; set it to a SQLite file path (default ${DEFAULT_DB_PATH}) or a file: URL`);
}
