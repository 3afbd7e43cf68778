/**
 * Idempotency-Key (CONTRACT §3): per API key, kept 24 h. The key is taken inside the transaction
 * that writes the task and its hold, so two racing requests can never create two tasks; the first
 * answer is stored and replayed byte-for-byte.
 */
import { createHash } from 'node:crypto';
import type { Repos } from '../db/store.ts';
import type { TaskRow } from '../db/schema/index.ts';
import { ApiError } from '../errors.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

export interface IdempotencyClaim {
  keyId: string;
  idemKey: string;
  requestHash: string;
  /**
   * Set once this request's own transaction took the key. Only the taker may store the key's answer
   * (or release it): a racing loser's 409 must never become what every retry replays.
   */
  taken: boolean;
  /**
   * Set when the taker's task failed but one of its creates has an unknown outcome (it may be
   * running, and billed, upstream): the failure is then the answer to replay, never a reason to
   * give the key back for a second create.
   */
  mayBeRunning?: boolean;
}

export type Precheck =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: string }
  /** The first request died with the process after creating its task: answer with the task. */
  | { kind: 'orphaned'; taskId: string };

export function claimFor(keyId: string, idemKey: string, rawBody: string): IdempotencyClaim {
  if (idemKey.length === 0 || idemKey.length > 255 || !/^[\x21-\x7e]+$/.test(idemKey)) {
    throw new ApiError('invalid_parameter', 'Idempotency-Key: 1–255 visible ASCII characters', { param: 'Idempotency-Key' });
  }
  return { keyId, idemKey, requestHash: createHash('sha256').update(rawBody).digest('hex'), taken: false };
}

async function live(store: Repos, claim: IdempotencyClaim, now: number) {
  const row = await store.idempotency.get(claim.keyId, claim.idemKey);
  return row && row.createdAt > now - IDEMPOTENCY_TTL_MS ? row : undefined;
}

/**
 * Before doing any work: replay, refuse, or go on. A task whose first create is still being sent
 * (here or on another replica: its attempt is `submitting` within the create's own deadline) is in
 * use; one whose request died with its process is orphaned.
 */
export async function precheck(store: Repos, claim: IdempotencyClaim, now: number, inFlight: ReadonlySet<string>): Promise<Precheck> {
  const row = await live(store, claim, now);
  if (!row) return { kind: 'new' };
  if (row.requestHash !== claim.requestHash) {
    throw new ApiError('idempotency_key_reused', 'Idempotency-Key was already used with a different request body', { param: 'Idempotency-Key' });
  }
  if (row.statusCode !== null && row.response !== null) return { kind: 'replay', status: row.statusCode, body: row.response };
  if (row.taskId && !inFlight.has(row.taskId) && !(await beingSubmitted(store, row.taskId, now))) return { kind: 'orphaned', taskId: row.taskId };
  throw new ApiError('idempotency_key_in_use', 'a request with this Idempotency-Key is still being handled', { param: 'Idempotency-Key' });
}

/** Whether a task's first create may still be on its way (the request that made it may still answer). */
async function beingSubmitted(store: Repos, taskId: string, now: number): Promise<boolean> {
  const task: TaskRow | undefined = await store.tasks.get(taskId);
  if (!task || task.nextPollAt === null || task.nextPollAt <= now) return false;
  const attempts = await store.tasks.attempts(taskId);
  return attempts.length === 1 && attempts[0]!.status === 'submitting';
}

/** Take the key for a new task. Call inside the task's transaction; throws if someone else took it first. */
export async function take(tx: Repos, claim: IdempotencyClaim, taskId: string, now: number): Promise<void> {
  const row = await live(tx, claim, now);
  if (row) {
    if (row.requestHash !== claim.requestHash) throw new ApiError('idempotency_key_reused', 'Idempotency-Key was already used with a different request body', { param: 'Idempotency-Key' });
    throw new ApiError('idempotency_key_in_use', 'a request with this Idempotency-Key is still being handled', { param: 'Idempotency-Key' });
  }
  const { keyId, idemKey, requestHash } = claim;
  // A racing request (another replica) may have taken it since the read: the insert is the arbiter.
  if (!(await tx.idempotency.put({ keyId, idemKey, requestHash, taskId, statusCode: null, response: null, createdAt: now }, now - IDEMPOTENCY_TTL_MS))) {
    throw new ApiError('idempotency_key_in_use', 'a request with this Idempotency-Key is still being handled', { param: 'Idempotency-Key' });
  }
}

/** Store the answer to replay. Only for a claim this request took. */
export function complete(store: Repos, claim: IdempotencyClaim, status: number, body: string): Promise<void> {
  if (!claim.taken) throw new Error('only the request that took an Idempotency-Key may store its answer');
  return store.idempotency.complete(claim.keyId, claim.idemKey, status, body);
}

/**
 * Give the key back: the taker's task ended with nothing charged and nothing running (every provider
 * failed), so a retry with the same key must be able to try again rather than replay the failure.
 */
export async function release(store: Repos, claim: IdempotencyClaim): Promise<void> {
  if (!claim.taken) throw new Error('only the request that took an Idempotency-Key may release it');
  await store.idempotency.release(claim.keyId, claim.idemKey);
  claim.taken = false;
}
