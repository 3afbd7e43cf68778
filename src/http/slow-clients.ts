/**
 * Slow clients (issue 8 #12): Node's defaults let a client take 60 s for its headers and 300 s for
 * its body, with no cap on connections. Here:
 * - headers must arrive within `headers_timeout_ms` (Node's own `headersTimeout`, checked often
 *   enough that the bound is real, answered with Node's 408);
 * - a request body (JSON) must arrive whole within `body_timeout_ms` of the request's start;
 * - uploads stream for long, so instead of that deadline they must keep a minimum transfer rate
 *   ({@link watchTransferRate}), measured per window;
 * - at most `max_connections` sockets are open at once (Node's `maxConnections`: more are dropped).
 * A client cut off gets a 408 envelope when no answer has started, then the connection is closed.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { ServerType } from '@hono/node-server';
import { ApiError, errorBody } from '../errors.ts';

/** The `server.*` config fields these rules read (see src/config.ts for defaults). */
export interface SlowClientLimits {
  headers_timeout_ms: number;
  body_timeout_ms: number;
  upload_min_bytes_per_s: number;
  upload_rate_window_ms: number;
  max_connections: number;
}

/**
 * Options for `http.createServer` (pass as @hono/node-server's `serverOptions`). Node checks its
 * header deadline only every `connectionsCheckingInterval` (default 30 s, which would triple a 10 s
 * bound), so the interval follows the deadline. The whole-request timeout is off: bodies have their
 * own rule below, which uploads must be exempt from.
 */
export function slowClientServerOptions(limits: SlowClientLimits): ServerOptions {
  return {
    headersTimeout: limits.headers_timeout_ms,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(limits.headers_timeout_ms / 4))),
  };
}

/** Options for {@link guardSlowClients}. */
export interface GuardOptions {
  /** Paths whose POST bodies are uploads (minimum rate instead of the body deadline). Default `/v1/files`. */
  uploadPaths?: readonly string[];
}

/**
 * Apply the connection cap and the body rules to a listening or not-yet-listening server.
 * @example
 * const server = serve({ fetch: app.fetch, port, serverOptions: slowClientServerOptions(config.server) });
 * guardSlowClients(server, config.server);
 */
export function guardSlowClients(httpServer: ServerType, limits: SlowClientLimits, opts: GuardOptions = {}): void {
  // serve() builds an HTTP/1 server unless told otherwise; these rules are HTTP/1's.
  const server = httpServer as Server;
  const uploads = new Set(opts.uploadPaths ?? ['/v1/files']);
  server.maxConnections = limits.max_connections;
  server.on('request', function slowBodyRule(req: IncomingMessage) {
    if (!hasBody(req)) return;
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (uploads.has(path)) watchTransferRate(req, { minBytesPerSecond: limits.upload_min_bytes_per_s, windowMs: limits.upload_rate_window_ms });
    else bodyDeadline(req, limits.body_timeout_ms);
  });
}

/** Options for {@link watchTransferRate}. */
export interface TransferRateOptions {
  /** Fewest body bytes per second a client must send, averaged over each window. */
  minBytesPerSecond: number;
  /** Length of one measuring window, ms (the first window is the grace period). */
  windowMs: number;
}

/**
 * Cut off a request whose body arrives slower than `minBytesPerSecond` over any window of `windowMs`.
 * It reads the socket's byte counter, never the body, so it does not disturb whoever consumes the
 * stream; a window in which the consumer (not the client) is behind — data waiting unread — does not
 * count against the client. Stops by itself when the body ends or the socket closes.
 * Returns a function that stops watching (e.g. when the handler stops reading on purpose).
 */
export function watchTransferRate(req: IncomingMessage, opts: TransferRateOptions): () => void {
  const socket = req.socket;
  const floor = (opts.minBytesPerSecond * opts.windowMs) / 1000;
  let last = socket.bytesRead;
  const timer = setInterval(() => {
    if (req.complete) return stop();
    const read = socket.bytesRead;
    const backlog = req.readableLength > 0 || socket.readableLength > 0;
    if (!backlog && read - last < floor) {
      stop();
      cutOff(req, `the upload is slower than ${opts.minBytesPerSecond} bytes per second`);
      return;
    }
    last = read;
  }, opts.windowMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    req.off('end', stop);
    socket.off('close', stop);
  };
  req.once('end', stop);
  socket.once('close', stop);
  return stop;
}

/** A request that must have its body whole within `ms` of its start. */
function bodyDeadline(req: IncomingMessage, ms: number): void {
  const socket = req.socket;
  const timer = setTimeout(() => {
    stop();
    if (!req.complete) cutOff(req, `the request body did not arrive within ${ms / 1000} s`);
  }, ms);
  timer.unref();
  const stop = () => {
    clearTimeout(timer);
    req.off('end', stop);
    socket.off('close', stop);
  };
  req.once('end', stop);
  socket.once('close', stop);
}

function hasBody(req: IncomingMessage): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  const length = req.headers['content-length'];
  return length !== undefined ? Number(length) > 0 : req.headers['transfer-encoding'] !== undefined;
}

/**
 * Answer 408 (when no answer has started on this connection) and close it. Written to the socket
 * directly, as Node itself answers its own timeouts: the route handler is still waiting on the body
 * and will fail quietly once the socket is gone.
 */
function cutOff(req: IncomingMessage, message: string): void {
  const socket = req.socket;
  if (socket.destroyed) return;
  const res = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!res?.headersSent && socket.writable) {
    const requestId = `req_${randomBytes(12).toString('hex')}`;
    const body = JSON.stringify(errorBody(new ApiError('request_timeout', message), requestId));
    socket.end(
      `HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
    );
    // A client that does not read its answer must not keep the socket either.
    setTimeout(() => socket.destroy(), 1_000).unref();
    return;
  }
  socket.destroy();
}
