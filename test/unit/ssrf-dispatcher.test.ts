import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { createUrlGuard, UnsafeUrlError } from '../../src/net/ssrf.ts';

let server: Server;
let port = 0;
let connections = 0;
let requests = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests += 1;
    res.end('ok');
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  connections = 0;
  requests = 0;
});

const dispatchers: Dispatcher[] = [];
afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.destroy()));
});

function guardWith(allowInsecure: boolean, lookup?: (host: string) => Promise<{ address: string; family: number }[]>) {
  const guard = createUrlGuard({ allowInsecure, connectTimeoutMs: 2_000, ...(lookup ? { lookup } : {}) });
  dispatchers.push(guard.dispatcher);
  return guard;
}

async function refusedRequest(url: string, dispatcher: Dispatcher): Promise<UnsafeUrlError> {
  const err = await request(url, { dispatcher }).then(
    async (res) => {
      await res.body.dump();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnsafeUrlError);
  return err as UnsafeUrlError;
}

describe('guard.dispatcher (allowInsecure: false)', () => {
  it('refuses to connect to a loopback IP literal; the server sees nothing', async () => {
    const { dispatcher } = guardWith(false, async () => {
      throw new Error('lookup must not be called for a literal');
    });
    const err = await refusedRequest(`http://127.0.0.1:${port}/`, dispatcher);
    expect(err.reason).toMatch(/127\.0\.0\.1 is loopback/);
    // Odd literal forms are normalized by URL parsing and refused the same way.
    expect((await refusedRequest(`http://0x7f.1:${port}/`, dispatcher)).reason).toMatch(/loopback/);
    expect((await refusedRequest(`http://2130706433:${port}/`, dispatcher)).reason).toMatch(/loopback/);
    expect((await refusedRequest(`http://[::ffff:127.0.0.1]:${port}/`, dispatcher)).reason).toMatch(/IPv4-mapped 127\.0\.0\.1/);
    expect((await refusedRequest(`https://127.0.0.1:${port}/`, dispatcher)).reason).toMatch(/loopback/);
    expect(connections).toBe(0);
    expect(requests).toBe(0);
  });

  it('refuses a hostname whose lookup answers 127.0.0.1 (http and https); the server sees nothing', async () => {
    const seen: string[] = [];
    const { dispatcher } = guardWith(false, async (host) => {
      seen.push(host);
      return [{ address: '127.0.0.1', family: 4 }];
    });
    const err = await refusedRequest(`http://evil.test:${port}/`, dispatcher);
    expect(err.code).toBe('address');
    expect(err.reason).toMatch(/evil\.test resolves to a forbidden address: address 127\.0\.0\.1 is loopback/);
    await refusedRequest(`https://evil-tls.test:${port}/`, dispatcher);
    expect(seen).toEqual(['evil.test', 'evil-tls.test']);
    expect(connections).toBe(0);
    expect(requests).toBe(0);
  });

  it('connect-time refusals are logged with their detail; the error a caller may show is generic', async () => {
    const logged: unknown[] = [];
    const guard = createUrlGuard({ allowInsecure: false, connectTimeoutMs: 2_000, lookup: async () => [{ address: '10.0.0.7', family: 4 }], log: { info: (o: unknown) => void logged.push(o) } as never });
    dispatchers.push(guard.dispatcher);
    const err = await refusedRequest(`http://rebound.test:${port}/`, guard.dispatcher);
    expect(err.message).not.toContain('10.0.0.7');
    expect(logged).toEqual([expect.objectContaining({ code: 'address', when: 'connect', reason: expect.stringContaining('10.0.0.7 is private') })]);
    expect(connections).toBe(0);
  });

  it('refuses a hostname resolving to IPv4-mapped loopback', async () => {
    const { dispatcher } = guardWith(false, async () => [{ address: '::ffff:127.0.0.1', family: 6 }]);
    expect((await refusedRequest(`http://mapped.test:${port}/`, dispatcher)).reason).toMatch(/IPv4-mapped 127\.0\.0\.1/);
    expect(connections).toBe(0);
  });

  it('closes the DNS-rebinding window: public at check() time, loopback at connect time → refused', async () => {
    const answers = ['93.184.216.34', '127.0.0.1'];
    let calls = 0;
    const guard = guardWith(false, async () => {
      const address = answers[Math.min(calls, answers.length - 1)]!;
      calls += 1;
      return [{ address, family: 4 }];
    });
    const url = `http://rebind.test:${port}/`;
    // check() only judges the address rule here (scheme is checked on an https twin of the URL).
    await expect(guard.check(`https://rebind.test:${port}/`)).resolves.toEqual({ addresses: [{ address: '93.184.216.34', family: 4 }] });
    const err = await refusedRequest(url, guard.dispatcher);
    expect(err.reason).toMatch(/127\.0\.0\.1 is loopback/);
    expect(calls).toBe(2); // the connection re-resolved rather than trusting check()'s answer
    expect(connections).toBe(0);
    expect(requests).toBe(0);
  });
});

describe('guard.dispatcher (allowInsecure: true)', () => {
  it('lets a request to the local server through', async () => {
    const guard = guardWith(true);
    await expect(guard.check(`http://127.0.0.1:${port}/`)).resolves.toBeDefined();
    const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: guard.dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok');
    expect(requests).toBe(1);
  });
});
