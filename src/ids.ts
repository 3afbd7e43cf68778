import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Random bytes drawn from a pool refilled 4 KiB at a time: one syscall per ~340 ids, not one each. */
const pool = { bytes: Buffer.alloc(0), offset: 0 };
function take(n: number): Buffer {
  if (pool.offset + n > pool.bytes.length) {
    pool.bytes = randomBytes(4096);
    pool.offset = 0;
  }
  const out = pool.bytes.subarray(pool.offset, pool.offset + n);
  pool.offset += n;
  return out;
}

/**
 * `prefix_<time><random>`: ids sort by creation time (the list cursor relies on it) and carry
 * ~62 bits of randomness so they cannot be guessed.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  let rand = '';
  for (const b of take(12)) rand += ALPHABET[b % 36];
  return `${prefix}_${now.toString(36).padStart(9, '0')}${rand}`;
}

/** A random secret with a prefix (`rr_…`), 256 bits, straight from the CSPRNG. */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}
