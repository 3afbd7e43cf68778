import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.ts';
import { DEFAULT_DB_PATH, dbLocation } from '../../src/db/location.ts';

describe('REELROUTE_DB', () => {
  it('is a SQLite path, a file: URL, or the default', () => {
    const sqlite = (path: string) => ({ engine: 'sqlite', path });
    expect(dbLocation(undefined)).toEqual(sqlite(DEFAULT_DB_PATH));
    expect(dbLocation('')).toEqual(sqlite(DEFAULT_DB_PATH));
    expect(dbLocation('/var/lib/reelroute/db.sqlite')).toEqual(sqlite('/var/lib/reelroute/db.sqlite'));
    expect(dbLocation('./data/x.db')).toEqual(sqlite('./data/x.db'));
    expect(dbLocation('file:///tmp/rr.db')).toEqual(sqlite('/tmp/rr.db'));
  });

  it('selects PostgreSQL for postgres:// and postgresql:// URLs', () => {
    expect(dbLocation('postgres://u:p@db:5432/rr')).toEqual({ engine: 'postgres', url: 'postgres://u:p@db:5432/rr' });
    expect(dbLocation('postgresql://db/rr')).toEqual({ engine: 'postgres', url: 'postgresql://db/rr' });
  });

  it('refuses any other URL scheme with a message naming the variable, instead of a file called mysql:/…', () => {
    for (const url of ['mysql://db/rr', 'https://x/y.db', 'redis://x']) {
      expect(() => dbLocation(url)).toThrow(ConfigError);
      expect(() => dbLocation(url)).toThrow(/^REELROUTE_DB: /);
    }
  });
});
