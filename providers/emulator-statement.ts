/**
 * An emulator's own bill: what the emulated provider charges for each of its tasks, kept the way
 * that provider bills (per second of output or per request, in USD or in credits), served as a
 * usage statement `GET /__emulator/statement?from=YYYY-MM-DD&to=YYYY-MM-DD` (CSV, header
 * `upstream_id,amount_usd` or `upstream_id,amount_credits`) for reconciliation (CONTRACT §9).
 *
 * Amounts are integers of micro-units (micro-USD or micro-credits) until formatted, so a statement
 * is exact: plain decimals, no float artifacts, no exponent.
 */
import type { EmulatorState, SimTask } from './emulator-kit.ts';

/** A provider's price for one task, in integer micro-units of its statement's currency. */
export type BilledPrice = { perSecondMicros: number } | { perRequestMicros: number };

/** How one emulated provider bills. Each provider's emulator states it from PROVIDERS.md. */
export interface EmulatorBilling {
  /** `amount_usd` for USD prices, `amount_credits` for credit-priced providers. */
  column: 'amount_usd' | 'amount_credits';
  /** The task's price (tier and model read from what the client sent). */
  priceOf(task: SimTask): BilledPrice;
  /**
   * Whether a task that ended this way is billed. Default: only completed tasks (every provider in
   * PROVIDERS.md bills produced output; failures and cancels produce none).
   */
  bills?(phase: 'completed' | 'failed' | 'cancelled', task: SimTask): boolean;
}

/** One line of a statement. */
export interface StatementLine {
  upstreamId: string;
  /** Integer micro-units (micro-USD or micro-credits). */
  amountMicros: number;
  createdAt: number;
}

const MICRO = 1_000_000;
const DAY_MS = 86_400_000;

/**
 * What the provider bills for `task` now, in micro-units; null while it runs or when not billed.
 * Per-second prices bill the output duration to the millisecond (PROVIDERS.md gives no minimum or
 * rounding for any provider), rounded half up to a whole micro-unit.
 */
export function billOf(state: EmulatorState, billing: EmulatorBilling, task: SimTask): number | null {
  const phase = state.phase(task);
  if (phase === 'queued' || phase === 'running') return null;
  const billed = billing.bills ? billing.bills(phase, task) : phase === 'completed';
  if (!billed) return null;
  const price = billing.priceOf(task);
  if ('perRequestMicros' in price) return price.perRequestMicros;
  const ms = Math.round(state.durationOf(task) * 1000);
  return Math.floor((price.perSecondMicros * ms + 500) / 1000);
}

/** The statement's lines for tasks created on UTC days `from`..`to` (inclusive), oldest first. */
export function statementLines(state: EmulatorState, billing: EmulatorBilling, range: { fromMs?: number; toMs?: number } = {}): StatementLine[] {
  const lines: StatementLine[] = [];
  for (const task of state.tasks.values()) {
    if (range.fromMs !== undefined && task.createdAt < range.fromMs) continue;
    if (range.toMs !== undefined && task.createdAt >= range.toMs) continue;
    const amount = billOf(state, billing, task);
    if (amount !== null) lines.push({ upstreamId: task.id, amountMicros: amount, createdAt: task.createdAt });
  }
  return lines.sort((a, b) => a.createdAt - b.createdAt || (a.upstreamId < b.upstreamId ? -1 : 1));
}

/** Integer micro-units → a plain decimal with at most 6 places (`6.3`, `55`, `0.000126`). */
export function formatMicros(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not an integer amount: ${micros}`);
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / MICRO);
  const frac = String(abs % MICRO).padStart(6, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}

/** A USD or credit price as the docs give it (e.g. 0.1134) → integer micro-units, exactly. */
export function toMicros(amount: number): number {
  const micros = Math.round(amount * MICRO);
  if (Math.abs(micros / MICRO - amount) > 1e-12) throw new RangeError(`${amount} has more than 6 decimals`);
  return micros;
}

/** The statement as CSV (RFC 4180 line ends). */
export function statementCsv(billing: EmulatorBilling, lines: readonly StatementLine[]): string {
  const rows = [`upstream_id,${billing.column}`, ...lines.map((l) => `${csvField(l.upstreamId)},${formatMicros(l.amountMicros)}`)];
  return `${rows.join('\r\n')}\r\n`;
}

/** Quote a field when CSV needs it; upstream ids never start a formula (they are the provider's). */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** `YYYY-MM-DD` → the UTC start of that day in ms; undefined when absent; NaN when malformed. */
export function parseDay(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!m) return Number.NaN;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === raw ? ms : Number.NaN;
}

/** The query's `from`/`to` (UTC dates, both inclusive) as a half-open ms range, or an error message. */
export function statementRange(from: string | undefined, to: string | undefined): { fromMs?: number; toMs?: number } | string {
  const fromMs = parseDay(from);
  const toDay = parseDay(to);
  if (Number.isNaN(fromMs)) return 'from must be a date YYYY-MM-DD';
  if (Number.isNaN(toDay)) return 'to must be a date YYYY-MM-DD';
  const toMs = toDay === undefined ? undefined : toDay + DAY_MS;
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs) return 'from must not be after to';
  return { ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}) };
}
