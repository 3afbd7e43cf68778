/**
 * WAL checkpoints off the event loop. SQLite's auto-checkpoint runs inside whichever COMMIT crosses
 * the threshold, and with it the fsync: on the request path that is a latency spike every few dozen
 * submits (measured in bench/). The serving connection turns auto-checkpoint off and a worker
 * thread with its own connection checkpoints (PASSIVE: never blocks writers) on a timer.
 * Durability is unchanged: commits are in the WAL either way.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

// Plain CommonJS evaluated in the worker, so it needs no TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ error: String(err) }); }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {} db.close(); parentPort.close(); });
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/** Move checkpoints of the database at `path` to a worker thread. Falls back to auto-checkpoint if it cannot start. */
export function startCheckpointer(sqlite: Database.Database, path: string, intervalMs = 1_000): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, path, intervalMs } });
  worker.unref();
  sqlite.pragma('wal_autocheckpoint = 0');
  const restore = () => sqlite.open && sqlite.pragma('wal_autocheckpoint = 1000');
  worker.once('error', restore);
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate().then(() => resolve()), 5_000).unref();
      }),
  };
}
