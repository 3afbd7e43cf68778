/** What every command receives: the connection from the global flags. */
import type { Command } from 'commander';
import type { Connection } from './client.ts';
import { UsageError } from './output.ts';

/** The global `--url` / `--admin-key` of the root program, read when a command runs. */
export function connectionOf(cmd: Command): Connection {
  let root = cmd;
  while (root.parent) root = root.parent;
  const opts = root.opts<{ url: string; adminKey?: string }>();
  return { url: opts.url, adminKey: opts.adminKey };
}

/** A USD amount given on the command line: a plain non-negative decimal with at most 6 places. */
export function usdArg(value: string, what: string): number {
  if (!/^\d+(\.\d{1,6})?$/.test(value)) throw new UsageError(`${what}: expected a USD amount like 12.50, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A UTC date (YYYY-MM-DD); the API checks it is a real day. */
export function dayArg(value: string | undefined, what: string): string | undefined {
  if (value !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new UsageError(`${what}: expected a UTC date YYYY-MM-DD, got ${JSON.stringify(value)}`);
  return value;
}
