/**
 * Slow clients (issue 8 #12) against real sockets with short configured limits: slow headers and a
 * slow JSON body are cut off with a 408 well within a second, an upload that keeps the minimum
 * rate may take longer than the body deadline while one below it is cut, and connections over the
 * cap are dropped. Real time, but every wait is a fraction of a second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { openStore, type Store } from '../../src/db/store.ts';
import { guardSlowClients, slowClientServerOptions, type SlowClientLimits } from '../../src/http/slow-clients.ts';
import { createRuntime } from '../../src/runtime.ts';
import { ADMIN_KEY } from '../helpers/gateway.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection that collects what the server sends and when it closed. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const start = Date.now();
    socket.on('data', (d) => void (data += d.toString()));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - start)));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

describe('the gateway (headers and JSON bodies)', () => {
  let dir: string;
  let store: Store;
  let server: Server;
  let port: number;
  let apiKey: string;
  const logged: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reelroute-slow-'));
    store = await openStore(join(dir, 'db.sqlite'));
    const config = parseConfig({ server: { headers_timeout_ms: 200, body_timeout_ms: 300 } });
    const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
    const runtime = await createRuntime({ config, store, adminKey: ADMIN_KEY, log });
    // As main.ts serves it.
    server = serve({ fetch: runtime.app.fetch, hostname: '127.0.0.1', port: 0, serverOptions: slowClientServerOptions(config.server) }) as Server;
    guardSlowClients(server, config.server);
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: '{"name":"t"}' });
    apiKey = ((await res.json()) as { key: string }).key;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('headers that do not arrive in time: 408 and the connection closed', async () => {
    const c = await rawClient(port);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const ms = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(1_000);
  });

  it('a JSON body that does not arrive whole in time: 408 envelope, connection closed', async () => {
    const c = await rawClient(port);
    const body = '{"model":"kling-v3-motion-control","image_urls":["https://a.example/x.png"]}';
    c.socket.write(
      `POST /v1/videos/generations/estimate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${apiKey}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    // Keep trickling (a byte every 50 ms) past the deadline: progress alone does not extend it.
    const trickle = setInterval(() => c.socket.writable && c.socket.write(' '), 50);
    const ms = await c.closed;
    clearInterval(trickle);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(1_500);
    const [head, json] = c.received().split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(json!).error).toMatchObject({ code: 'request_timeout', type: 'invalid_request_error' });
    await sleep(50);
    expect(logged).toEqual([]);
  });

  it('a body in time is served as usual', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/videos/generations/estimate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: '{"model":"nope"}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unknown_model');
  });
});

describe('uploads and the connection cap', () => {
  const limits: SlowClientLimits = { headers_timeout_ms: 5_000, body_timeout_ms: 300, upload_min_bytes_per_s: 2_000, upload_rate_window_ms: 200, max_connections: 3 };
  let server: Server;
  let port: number;

  beforeAll(async () => {
    // A plain server with an upload route that counts what it reads.
    server = createServer(slowClientServerOptions(limits), (req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => void (n += d.length));
      req.on('end', () => res.end(JSON.stringify({ bytes: n })));
      req.on('error', () => undefined);
    });
    guardSlowClients(server, limits, { uploadPaths: ['/up'] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const upload = async (c: Awaited<ReturnType<typeof rawClient>>, total: number) =>
    c.socket.write(`POST /up HTTP/1.1\r\nHost: x\r\ncontent-length: ${total}\r\nconnection: close\r\n\r\n`);

  it('an upload at a good rate may outlast the body deadline', async () => {
    const c = await rawClient(port);
    await upload(c, 6_000);
    for (let i = 0; i < 6; i++) {
      c.socket.write(Buffer.alloc(1_000, 1));
      await sleep(100); // 10 kB/s for 600 ms: twice the 300 ms body deadline
    }
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(c.received()).toContain('{"bytes":6000}');
  });

  it('an upload below the minimum rate is cut off with 408', async () => {
    const c = await rawClient(port);
    await upload(c, 6_000);
    const trickle = setInterval(() => c.socket.writable && c.socket.write(Buffer.alloc(20, 1)), 50); // 400 B/s
    const ms = await c.closed;
    clearInterval(trickle);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(c.received()).toContain('slower than 2000 bytes per second');
    expect(ms).toBeLessThan(1_000);
  });

  it('connections over the cap are dropped; those under it stay', async () => {
    const held = await Promise.all([rawClient(port), rawClient(port), rawClient(port)]);
    await sleep(50); // let the server count them
    const extra = await rawClient(port);
    const ms = await extra.closed;
    expect(ms).toBeLessThan(500);
    expect(extra.received()).toBe('');
    expect(held.every((h) => !h.socket.destroyed)).toBe(true);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
  });
});
