/**
 * What a PostgreSQL repository runs its statements on: the pool (each statement on its own) or the
 * client of one open transaction. Statements use `$1…` placeholders; int8 columns come back as
 * JavaScript numbers (micro-USD and millisecond times stay far below 2^53).
 */
export interface Sql {
  /** Every row of one statement. */
  rows<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** The first row, or undefined. */
  row<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R | undefined>;
  /** Run a statement; answers the number of rows it touched. */
  exec(text: string, params?: readonly unknown[]): Promise<number>;
}
