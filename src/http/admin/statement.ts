/**
 * A provider's usage statement (CSV with a header row) read into exact amounts per upstream id:
 * parsed with `csv-parse` (RFC 4180 quoting, BOM, CRLF), amounts as plain decimals turned into
 * integer micro-USD without floats — credits at the provider's `credit_usd` when the amount column
 * holds credits.
 */
import { parse } from 'csv-parse/sync';
import { ApiError } from '../../errors.ts';
import type { Micros } from '../../pricing/money.ts';

/** The statement's amount per upstream id (lines of one id summed), in statement order. */
export interface Statement {
  amounts: Map<string, Micros>;
  lines: number;
}

const bad = (message: string, param = 'body') => new ApiError('invalid_parameter', message, { param });

/**
 * A plain decimal ("12", "-0.5", "0.0000125") → an integer count of millionths, rounded half away
 * from zero; exponents, thousands separators and currency signs are refused.
 */
export function decimalToMillionths(text: string): bigint | null {
  const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return null;
  const frac = m[3] ?? '';
  const kept = BigInt(m[2]! + frac.slice(0, 6).padEnd(6, '0'));
  const roundUp = frac.length > 6 && frac[6]! >= '5' ? 1n : 0n;
  const abs = kept + roundUp;
  return m[1] === '-' ? -abs : abs;
}

/** millionths of a credit × micro-USD per credit → micro-USD, rounded half away from zero. */
function creditsToMicros(millionths: bigint, creditMicros: number): bigint {
  const product = millionths * BigInt(creditMicros);
  const abs = product < 0n ? -product : product;
  const rounded = (abs + 500_000n) / 1_000_000n;
  return product < 0n ? -rounded : rounded;
}

/**
 * Read a statement. `creditMicros` is the provider's `credit_usd` in micro-USD when the amount
 * column holds credits (`amount_credits`), else null (the amounts are USD).
 */
export function readStatement(csv: string, idColumn: string, amountColumn: string, creditMicros: number | null): Statement {
  let records: string[][];
  try {
    records = parse(csv, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: false }) as string[][];
  } catch (err) {
    throw bad(`body: not a readable CSV statement (${(err as Error).message.slice(0, 200)})`);
  }
  const [header, ...rows] = records;
  if (!header) throw bad('body: the statement is empty; expected a header row and one line per upstream id');
  const idAt = header.indexOf(idColumn);
  const amountAt = header.indexOf(amountColumn);
  const columns = header.map((h) => JSON.stringify(h.slice(0, 40))).join(', ');
  if (idAt < 0) throw bad(`id_column: the statement's header has no column ${JSON.stringify(idColumn)} (it has ${columns})`, 'id_column');
  if (amountAt < 0) throw bad(`amount_column: the statement's header has no column ${JSON.stringify(amountColumn)} (it has ${columns})`, 'amount_column');

  const amounts = new Map<string, Micros>();
  rows.forEach((row, i) => {
    const line = i + 2;
    const id = row[idAt] ?? '';
    const raw = row[amountAt] ?? '';
    if (!id) throw bad(`body: line ${line} has no ${idColumn}`);
    const millionths = decimalToMillionths(raw);
    if (millionths === null) throw bad(`body: line ${line}: ${amountColumn} ${JSON.stringify(raw.slice(0, 40))} is not a plain decimal number`);
    const micros = creditMicros === null ? millionths : creditsToMicros(millionths, creditMicros);
    const total = BigInt(amounts.get(id) ?? 0) + micros;
    if (total > BigInt(Number.MAX_SAFE_INTEGER) || total < -BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`body: line ${line}: amount out of range`);
    // A provider may bill one task on several lines (a charge and its adjustment): they add up.
    amounts.set(id, Number(total));
  });
  return { amounts, lines: rows.length };
}
