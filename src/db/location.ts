/**
 * Where the database lives, from `REELROUTE_DB` (or `database.url` in the config): a PostgreSQL URL
 * (`postgres://` or `postgresql://`), a `file:` URL or a plain SQLite path. Any other URL scheme is
 * refused at start instead of silently becoming a SQLite file named after the URL.
 */
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config.ts';

export const DEFAULT_DB_PATH = './data/reelroute.db';

export type DbLocation = { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string };

/** The database a `REELROUTE_DB` value names (the default SQLite file when unset or empty). */
export function dbLocation(value: string | undefined): DbLocation {
  if (value === undefined || value.trim() === '') return { engine: 'sqlite', path: DEFAULT_DB_PATH };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  // One letter before the colon is a Windows drive (C:\…), not a scheme.
  if (scheme === undefined || scheme.length === 1) return { engine: 'sqlite', path: value };
  if (scheme === 'file') return { engine: 'sqlite', path: fileURLToPath(value) };
  if (scheme === 'postgres' || scheme === 'postgresql') return { engine: 'postgres', url: value };
  throw new ConfigError(
    `REELROUTE_DB: the ${scheme}: scheme is not a database reelroute can use; set it to a SQLite file path (default ${DEFAULT_DB_PATH}), a file: URL or a postgres:// URL`,
  );
}
