/**
 * Leases on due work. Every replica runs the same workers (poller, callback sender, output mirror,
 * file expiry); each claims the rows it will work on for a while, in one statement that moves the
 * row's next-due time a lease ahead (PostgreSQL skips rows another replica is claiming at that
 * moment). A replica that dies mid-work leaves its rows due again once the lease runs out, so another
 * takes them over within `LEASE_MS` (plus one tick).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** How long a claim holds before another replica may take the work over. */
export const LEASE_MS = 20_000;

/** This process's name as a lease owner: host, pid and a random part (pids repeat across restarts). */
export function newReplicaId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
