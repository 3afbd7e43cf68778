/**
 * CSV for people and spreadsheets: RFC 4180 quoting, formula-injection guard on text, money as plain
 * decimals from integer micro-USD (never a float's exponent), and a streamed body for big reports.
 */
import type { Micros } from '../pricing/money.ts';

/** A money amount: written from its integer micros, never guarded (its digits are ours). */
export class Money {
  constructor(readonly micros: Micros) {}
}

export type CsvValue = string | number | Money | null;

/** micro-USD → a plain decimal string ("-12.0345", "0", "1000000.5"): exact, no exponent. */
export function microsToDecimal(micros: Micros): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not an integer micro amount: ${micros}`);
  // Integer arithmetic on safe integers is exact; no float ever holds a fraction here.
  const abs = Math.abs(micros);
  const frac = abs % 1_000_000;
  const whole = (abs - frac) / 1_000_000;
  const sign = micros < 0 ? '-' : '';
  if (frac === 0) return `${sign}${whole}`;
  return `${sign}${whole}.${String(frac).padStart(6, '0').replace(/0+$/, '')}`;
}

/**
 * One CSV field per RFC 4180 (quoted when it holds a comma, quote, CR or LF; quotes doubled). Text
 * starting with = + - @ (or tab / CR) gets a leading apostrophe so spreadsheets do not run it.
 */
export function csvField(value: CsvValue): string {
  if (value === null) return '';
  if (value instanceof Money) return microsToDecimal(value.micros);
  if (typeof value === 'number') return Number.isInteger(value) ? value.toFixed(0) : String(value);
  let s = value;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const csvLine = (fields: CsvValue[]): string => `${fields.map(csvField).join(',')}\r\n`;

/** Lines per chunk of a streamed CSV: small enough that each turn of the event loop stays short. */
const CHUNK_LINES = 2_000;

/**
 * A CSV body produced a chunk at a time, yielding to the event loop between chunks, so a big report
 * neither builds one huge string nor holds other requests back while it is written.
 */
export function csvStream(lines: Iterable<CsvValue[]>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const it = lines[Symbol.iterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = '';
      for (let i = 0; i < CHUNK_LINES; i++) {
        const next = it.next();
        if (next.done) {
          if (chunk) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        chunk += csvLine(next.value);
      }
      controller.enqueue(encoder.encode(chunk));
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
}
