/** API keys: issued once in clear, stored as a SHA-256 hash, looked up by that hash. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Repos, Store } from '../db/store.ts';
import type { ApiKeyRow } from '../db/schema/index.ts';
import { newId, newSecret } from '../ids.ts';
import { credit } from '../ledger/ledger.ts';
import { microsToUsd, type Micros } from '../pricing/money.ts';

/** Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Constant-time comparison of two secrets (via their hashes, so lengths never leak). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export interface NewKeyInput {
  name: string;
  balanceMicros: Micros | null;
  dailyBudgetMicros: Micros | null;
  monthlyBudgetMicros: Micros | null;
}

/** Create a key (and its opening credit, so balance = sum of ledger entries). Returns the secrets once. */
export function createKey(store: Store, input: NewKeyInput, now: number): Promise<{ row: ApiKeyRow; key: string }> {
  return store.transaction((tx) => createKeyIn(tx, input, now));
}

/** `createKey` inside the caller's transaction (with its audit row, say). */
export async function createKeyIn(tx: Repos, input: NewKeyInput, now: number): Promise<{ row: ApiKeyRow; key: string }> {
  const key = newSecret('rr_');
  const row: ApiKeyRow = {
    id: newId('key', now),
    name: input.name,
    keyHash: hashKey(key),
    prefix: key.slice(0, 9),
    // Standard Webhooks secrets are `whsec_` + standard base64 of the HMAC key.
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    balanceMicros: input.balanceMicros === null ? null : 0,
    dailyBudgetMicros: input.dailyBudgetMicros,
    monthlyBudgetMicros: input.monthlyBudgetMicros,
    createdAt: now,
    revokedAt: null,
    route: null,
  };
  await tx.keys.insert(row);
  if (input.balanceMicros) await credit(tx, row.id, input.balanceMicros, 'opening balance', now);
  return { row: (await tx.keys.byId(row.id))!, key };
}

/** The key as admins see it (never the key or its hash). */
export function keyView(row: ApiKeyRow) {
  return {
    id: row.id,
    object: 'api_key',
    name: row.name,
    prefix: row.prefix,
    balance_usd: row.balanceMicros === null ? null : microsToUsd(row.balanceMicros),
    daily_budget_usd: row.dailyBudgetMicros === null ? null : microsToUsd(row.dailyBudgetMicros),
    monthly_budget_usd: row.monthlyBudgetMicros === null ? null : microsToUsd(row.monthlyBudgetMicros),
    created: Math.floor(row.createdAt / 1000),
    revoked: row.revokedAt !== null,
    route: row.route === null ? null : (JSON.parse(row.route) as Record<string, unknown>),
  };
}

/**
 * Authenticates client keys with a small cache of key rows by hash. The cache only saves the
 * lookup; money checks always read fresh rows inside their transaction. Any admin change to keys
 * clears it, so a revoked key is refused at once.
 */
export class KeyAuth {
  private readonly cache = new Map<string, ApiKeyRow | null>();

  constructor(private readonly store: Store) {}

  /** The live key for a bearer secret, or null. */
  async authenticate(secret: string): Promise<ApiKeyRow | null> {
    const hash = hashKey(secret);
    let row = this.cache.get(hash);
    if (row === undefined) {
      row = (await this.store.keys.byHash(hash)) ?? null;
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, row);
    }
    return row && row.revokedAt === null ? row : null;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
