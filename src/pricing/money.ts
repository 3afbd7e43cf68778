/**
 * Money is integer micro-USD (1 USD = 1,000,000) everywhere inside reelroute; floats appear only
 * at the JSON edge, through these two functions.
 */

export type Micros = number;

export const MICROS_PER_USD = 1_000_000;

/** USD (a JSON number) → micro-USD, rounded to the nearest micro. */
export function usdToMicros(usd: number): Micros {
  return Math.round(usd * MICROS_PER_USD);
}

/** micro-USD → USD with at most 6 decimals, exact for every integer micro amount. */
export function microsToUsd(micros: Micros): number {
  return Number((micros / MICROS_PER_USD).toFixed(6));
}
