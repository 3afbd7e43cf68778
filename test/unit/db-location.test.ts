import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.ts';
import { DEFAULT_DB_PATH, sqlitePath } from '../../src/db/location.ts';

describe('REELROUTE_DB', () => {
  it('is a SQLite path, a file: URL, or the default', () => {
    expect(sqlitePath(undefined)).toBe(DEFAULT_DB_PATH);
    expect(sqlitePath('')).toBe(DEFAULT_DB_PATH);
    expect(sqlitePath('/var/lib/reelroute/db.sqlite')).toBe('/var/lib/reelroute/db.sqlite');
    expect(sqlitePath('./data/x.db')).toBe('./data/x.db');
    expect(sqlitePath('file:///tmp/rr.db')).toBe('/tmp/rr.db');
  });

  it('refuses any other URL scheme with a message naming the variable, instead of a file called postgres:/…', () => {
    for (const url of ['postgres://u:p@db:5432/rr', 'postgresql://db/rr', 'mysql://db/rr', 'https://x/y.db']) {
      expect(() => sqlitePath(url)).toThrow(ConfigError);
      expect(() => sqlitePath(url)).toThrow(/^REELROUTE_DB: /);
    }
    expect(() => sqlitePath('postgres://db/rr')).toThrow(/PostgreSQL is not supported yet/);
  });
});
