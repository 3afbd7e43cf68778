/**
 * All of the CLI's printing, in one place: tables for a terminal (cli-table3), clean CSV or JSON
 * on stdout when piped, errors on stderr, and a progress line on stderr for long transfers (only
 * when stderr is a terminal, so logs and pipes stay clean).
 */
import Table from 'cli-table3';
import { csvLine } from '../http/csv.ts';

export const FORMATS = ['table', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** A column of a listing: its header and how to read it from a record of the API's answer. */
export interface Column<T> {
  header: string;
  get(row: T): string | number | boolean | null | undefined;
  /** Right-aligned (numbers, money). */
  numeric?: boolean;
}

const out = process.stdout;
const err = process.stderr;

/** The format asked for, else a table on a terminal and `piped` (JSON unless said) in a pipe. */
export function formatOf(asked: string | undefined, piped: Format = 'json'): Format {
  if (asked === undefined) return out.isTTY ? 'table' : piped;
  if (!(FORMATS as readonly string[]).includes(asked)) throw new UsageError(`--format: expected one of ${FORMATS.join(', ')}, got ${asked}`);
  return asked as Format;
}

/** A mistake in how the CLI was called (exit status 2). */
export class UsageError extends Error {}

/** A USD amount (a JSON number with at most 6 decimals) with at least 2 decimals, never an exponent. */
export function usd(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  const fixed = n.toFixed(6).replace(/0+$/, '');
  const [whole, frac = ''] = fixed.split('.');
  return `${whole}.${frac.padEnd(2, '0')}`;
}

const cell = (v: string | number | boolean | null | undefined) => (v === null || v === undefined ? '' : String(v));

/** Print records as a table, CSV (header + lines) or JSON (`json`, else the records). */
export function printList<T>(format: Format, columns: Column<T>[], rows: readonly T[], json: unknown = rows): void {
  if (format === 'json') return void out.write(`${JSON.stringify(json, null, 2)}\n`);
  if (format === 'csv') {
    out.write(csvLine(columns.map((c) => c.header)));
    for (const r of rows) out.write(csvLine(columns.map((c) => { const v = c.get(r); return typeof v === 'boolean' || v === undefined ? cell(v) : v; })));
    return;
  }
  if (rows.length === 0) return void out.write('(none)\n');
  const table = new Table({ head: columns.map((c) => c.header), colAligns: columns.map((c) => (c.numeric ? 'right' : 'left')), style: { head: [], border: [], compact: true } });
  for (const r of rows) table.push(columns.map((c) => cell(c.get(r))));
  out.write(`${table.toString()}\n`);
}

/** Print one object as `field | value` lines (table) or as JSON. */
export function printObject(format: Format, fields: [string, string | number | boolean | null | undefined][], json: unknown): void {
  if (format === 'json') return void out.write(`${JSON.stringify(json, null, 2)}\n`);
  if (format === 'csv') {
    out.write(csvLine(fields.map(([k]) => k)));
    out.write(csvLine(fields.map(([, v]) => (typeof v === 'boolean' || v === undefined ? cell(v) : v))));
    return;
  }
  const table = new Table({ style: { head: [], border: [], compact: true } });
  for (const [k, v] of fields) table.push({ [k]: cell(v) });
  out.write(`${table.toString()}\n`);
}

/** A line of text for people (a heading, a notice) — only in table mode, so pipes stay parseable. */
export function note(format: Format, text: string): void {
  if (format === 'table') out.write(`${text}\n`);
}

/** An error for people, on stderr. */
export function printError(message: string): void {
  err.write(`reelroute: ${message}\n`);
}

/** Copy a response body to stdout, with a progress line on stderr when it is a terminal. */
export async function pipeBody(res: Response, label: string): Promise<void> {
  const show = Boolean(err.isTTY);
  let bytes = 0;
  let last = 0;
  const draw = (final = false) => {
    if (!show) return;
    const now = Date.now();
    if (!final && now - last < 100) return;
    last = now;
    err.write(`\r${label}: ${(bytes / 1024).toFixed(0)} KiB${final ? ' done\n' : ''}`);
  };
  if (!res.body) return;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
    draw();
  }
  draw(true);
}
