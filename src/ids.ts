import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * `prefix_<time><random>`: ids sort by creation time (the list cursor relies on it) and carry
 * ~62 bits of randomness so they cannot be guessed.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  const bytes = randomBytes(12);
  let rand = '';
  for (const b of bytes) rand += ALPHABET[b % 36];
  return `${prefix}_${now.toString(36).padStart(9, '0')}${rand}`;
}

/** A random secret with a prefix (`rr_…`, `whsec_…`), 256 bits. */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}
