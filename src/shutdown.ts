/**
 * Graceful shutdown on SIGTERM/SIGINT: stop taking connections, let requests in flight finish,
 * stop the workers at a safe point, close the database, exit 0. A second signal exits at once
 * (an operator pressing Ctrl-C twice, or a process manager that lost patience).
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';

export interface ShutdownOptions {
  server: Server;
  log: Logger;
  /** Run after new connections are refused, alongside the drain (workers: poller, callbacks). */
  stopWorkers: () => Promise<unknown>;
  /** Run once requests and workers are done (database, demo upstreams). */
  release: () => Promise<unknown>;
  /** Requests still running after this are cut off, ms. */
  graceMs?: number;
  exit?: (code: number) => void;
}

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** Install the signal handlers. Returns the shutdown function (also callable directly). */
export function handleSignals(opts: ShutdownOptions): (signal: string) => Promise<void> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) {
      opts.log.warn({ signal }, 'second signal: exiting now');
      exit(SIGNAL_EXIT[signal as keyof typeof SIGNAL_EXIT] ?? 1);
      return;
    }
    closing = true;
    // Some steps wait on unref'd handles (the checkpoint worker); without a ref'd handle the event
    // loop could run dry mid-shutdown and exit before the database is closed.
    setInterval(() => {}, 1_000);
    // The listener closes first, so whoever reads this line finds new connections refused.
    const draining = Promise.all([drain(opts.server, opts.graceMs ?? 25_000), opts.stopWorkers()]);
    opts.log.info({ signal }, 'shutting down: finishing requests in flight');
    try {
      await draining;
      await opts.release();
      opts.log.info('shut down cleanly');
      await flush(opts.log);
      exit(0);
    } catch (err) {
      opts.log.error({ err }, 'shutdown failed');
      await flush(opts.log);
      exit(1);
    }
  };
  for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, () => void shutdown(signal));
  return shutdown;
}

/** Write out buffered log lines (pino's stdout is asynchronous; process.exit would drop them). */
function flush(log: Logger): Promise<void> {
  return new Promise<void>((resolve) => log.flush(() => resolve()));
}

/**
 * Close the listener and wait for open requests. A keep-alive connection that goes idle after
 * its request finishes is closed then (close() alone would wait for the client to hang up).
 */
function drain(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
