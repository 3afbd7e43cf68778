/**
 * Money movements. Every function here runs on the `tx` of the caller's `store.transaction`, together
 * with the task state change it belongs to: the balance check, the ledger row and the balance
 * update are written together or not at all. The key row is read for update, so concurrent holds
 * on one key (on one replica or several) are checked one after the other.
 *
 * Per task, at the end: sum(hold) = sum(charge) + sum(refund). Per key: balance = sum(balance deltas).
 */
import type { Repos } from '../db/store.ts';
import type { ApiKeyRow, TaskRow } from '../db/schema/index.ts';
import { ApiError } from '../errors.ts';
import { microsToUsd, type Micros } from '../pricing/money.ts';

const DAY_MS = 86_400_000;

/** The UTC day and month containing `at`, as [start, end) in ms. */
function periods(at: number): { day: [number, number]; month: [number, number] } {
  const d = new Date(at);
  const dayStart = at - (((at % DAY_MS) + DAY_MS) % DAY_MS);
  return {
    day: [dayStart, dayStart + DAY_MS],
    month: [Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)],
  };
}

/**
 * Refuse (402) when `amount` more would exceed the key's balance or a budget. Reads fresh rows.
 * A budget counts each task in the period it was created (`periodAt`: the task's creation time):
 * money added to an older task (a pricier failover) is checked against that task's day and month.
 */
export async function assertAffordable(tx: Repos, keyId: string, amount: Micros, periodAt: number): Promise<ApiKeyRow> {
  let key = await tx.keys.byId(keyId);
  // Only a key with something to check is locked (a balance or a budget): a post-paid key without
  // budgets never makes its concurrent submits wait for each other.
  if (key && (key.balanceMicros !== null || key.dailyBudgetMicros !== null || key.monthlyBudgetMicros !== null)) key = await tx.keys.forUpdate(keyId);
  if (!key || key.revokedAt !== null) throw new ApiError('invalid_api_key', 'API key revoked');
  if (key.balanceMicros !== null && key.balanceMicros < amount) {
    throw new ApiError('insufficient_balance', `balance $${microsToUsd(key.balanceMicros)} is below the $${microsToUsd(amount)} this task needs`);
  }
  if (key.dailyBudgetMicros !== null || key.monthlyBudgetMicros !== null) {
    const { day, month } = periods(periodAt);
    for (const [budget, [from, to], label] of [
      [key.dailyBudgetMicros, day, 'daily'],
      [key.monthlyBudgetMicros, month, 'monthly'],
    ] as const) {
      if (budget === null) continue;
      const spent = await tx.ledger.spentIn(keyId, from, to);
      if (spent + amount > budget) {
        throw new ApiError('budget_exceeded', `${label} budget $${microsToUsd(budget)} would be exceeded ($${microsToUsd(spent)} spent or held)`);
      }
    }
  }
  return key;
}

/**
 * Reserve `amount` for a task (a hold). Throws 402 when the key cannot afford it. Call it before the
 * task row carries `amount` in its `reserved` (same transaction): budgets read the spend rollup, which
 * follows the task rows. The task's creation time (`taskCreatedAt`: now, for a new task) decides which
 * budget period the hold counts in.
 */
export async function hold(tx: Repos, keyId: string, taskId: string, amount: Micros, now: number, taskCreatedAt = now, note: string | null = null): Promise<void> {
  const key = await assertAffordable(tx, keyId, amount, taskCreatedAt);
  await tx.ledger.insert({ keyId, taskId, kind: 'hold', amountMicros: amount, balanceDeltaMicros: -amount, note, createdAt: now });
  // A post-paid key has no balance to move (and skipping the write keeps the submit cheap).
  if (key.balanceMicros !== null) await tx.keys.addBalance(keyId, -amount);
}

/**
 * End a task's money: charge `charge` (capped at what is held) and refund the rest.
 * Returns the amounts written; the caller stores them on the task row in the same transaction.
 */
export async function settle(tx: Repos, task: Pick<TaskRow, 'id' | 'keyId' | 'reservedMicros'>, charge: Micros, now: number): Promise<{ charged: Micros; refunded: Micros }> {
  const charged = Math.max(0, Math.min(charge, task.reservedMicros));
  const refunded = task.reservedMicros - charged;
  if (charged > 0) {
    await tx.ledger.insert({ keyId: task.keyId, taskId: task.id, kind: 'charge', amountMicros: charged, balanceDeltaMicros: 0, createdAt: now });
  }
  if (refunded > 0) {
    await tx.ledger.insert({ keyId: task.keyId, taskId: task.id, kind: 'refund', amountMicros: refunded, balanceDeltaMicros: refunded, createdAt: now });
    if ((await tx.keys.byId(task.keyId))?.balanceMicros !== null) await tx.keys.addBalance(task.keyId, refunded);
  }
  return { charged, refunded };
}

/** Add prepaid funds to a key. */
export async function credit(tx: Repos, keyId: string, amount: Micros, note: string | null, now: number): Promise<void> {
  await tx.ledger.insert({ keyId, taskId: null, kind: 'credit', amountMicros: amount, balanceDeltaMicros: amount, note, createdAt: now });
  await tx.keys.addBalance(keyId, amount);
}
