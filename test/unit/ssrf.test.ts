import { describe, expect, it } from 'vitest';
import { checkRedirect, createGuardedLookup, createUrlGuard, isPublicAddress, UnsafeUrlError } from '../../src/net/ssrf.ts';
import type { HostLookup } from '../../src/net/ssrf.ts';

const PUBLIC_V4 = '93.184.216.34';
const PUBLIC_V6 = '2606:2800:220:1:248:1893:25c8:1946';

/** A lookup answering from a fixed table; unknown names fail like getaddrinfo would. */
function table(entries: Record<string, string[]>): HostLookup & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string) => {
    calls.push(host);
    const answers = entries[host];
    if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

async function refusal(p: Promise<unknown>): Promise<UnsafeUrlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnsafeUrlError);
  return err as UnsafeUrlError;
}

describe('WHATWG URL normalizes odd IPv4 literals (so the guard sees the real address)', () => {
  it.each([
    ['https://2130706433/', '127.0.0.1'],
    ['https://0177.0.0.1/', '127.0.0.1'],
    ['https://0x7f.1/', '127.0.0.1'],
    ['https://127.1/', '127.0.0.1'],
    ['https://0x7f000001/', '127.0.0.1'],
    ['https://%31%32%37.0.0.1/', '127.0.0.1'],
    ['https://127.0.0.1./', '127.0.0.1'],
    ['https://0/', '0.0.0.0'],
    ['https://3232235777/', '192.168.1.1'],
    ['https://0xa9.0xfe.0xa9.0xfe/', '169.254.169.254'],
    ['https://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
  ])('%s → %s', (input, hostname) => {
    expect(new URL(input).hostname).toBe(hostname);
  });
});

describe('createUrlGuard().check — literals (allowInsecure: false)', () => {
  const guard = createUrlGuard({ allowInsecure: false, lookup: table({}) });

  it.each([
    ['https://127.0.0.1/', /loopback/],
    ['https://2130706433/', /127\.0\.0\.1 is loopback/],
    ['https://0177.0.0.1/', /127\.0\.0\.1 is loopback/],
    ['https://0x7f.1/', /127\.0\.0\.1 is loopback/],
    ['https://127.1/', /127\.0\.0\.1 is loopback/],
    ['https://0x7f000001/', /loopback/],
    ['https://%31%32%37.0.0.1/', /loopback/],
    ['https://127.0.0.1./x', /loopback/],
    ['https://10.0.0.1/', /private/],
    ['https://172.16.5.4/', /private/],
    ['https://192.168.1.1/', /private/],
    ['https://3232235777/', /192\.168\.1\.1 is private/],
    ['https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is link-local/],
    ['https://0xa9.0xfe.0xa9.0xfe/', /169\.254\.169\.254 is link-local/],
    ['https://100.64.0.1/', /carrier-grade NAT/],
    ['https://100.127.255.254/', /carrier-grade NAT/],
    ['https://0.0.0.0/', /unspecified/],
    ['https://0/', /0\.0\.0\.0 is unspecified/],
    ['https://255.255.255.255/', /broadcast/],
    ['https://224.0.0.1/', /multicast/],
    ['https://240.0.0.1/', /reserved/],
    ['https://192.0.2.10/', /reserved/],
    ['https://[::1]/', /::1 is loopback/],
    ['https://[::]/', /unspecified/],
    ['https://[fe80::1]/', /link-local/],
    ['https://[fc00::1]/', /unique-local/],
    ['https://[fd12:3456::1]/', /unique-local/],
    ['https://[ff02::1]/', /multicast/],
    ['https://[::ffff:127.0.0.1]/', /loopback \(IPv4-mapped 127\.0\.0\.1\)/],
    ['https://[::ffff:a9fe:a9fe]/', /link-local \(IPv4-mapped 169\.254\.169\.254\)/],
    ['https://[::ffff:10.1.2.3]/', /private \(IPv4-mapped 10\.1\.2\.3\)/],
    ['https://[::127.0.0.1]/', /IPv4-compatible IPv6 \(embeds 127\.0\.0\.1\)/],
    ['https://[2002:7f00:1::1]/', /6to4 \(embeds 127\.0\.0\.1\)/],
    ['https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', /Teredo \(embeds 127\.0\.0\.1\)/],
    ['https://[64:ff9b::7f00:1]/', /NAT64 .*\(embeds 127\.0\.0\.1\)/],
    ['https://[64:ff9b::a9fe:a9fe]/', /NAT64 .*\(embeds 169\.254\.169\.254\)/],
    ['https://[2001:db8::1]/', /reserved/],
    ['https://[fec0::1]/', /site-local/],
  ])('%s is refused', async (url, why) => {
    const err = await refusal(guard.check(url));
    expect(err.code).toBe('address');
    expect(err.reason).toMatch(why);
    // The detail is for the log; the message a client reads names no address (issue 8 #10).
    expect(err.message).not.toMatch(/IPv4|embeds|\d+\.\d+\.\d+/);
  });

  it('also refuses URL objects, and allows public literals without DNS', async () => {
    await refusal(guard.check(new URL('https://0x7f.1/')));
    await expect(guard.check(`https://${PUBLIC_V4}/a?b=c`)).resolves.toEqual({ addresses: [{ address: PUBLIC_V4, family: 4 }] });
    await expect(guard.check(`https://[${PUBLIC_V6}]:8443/`)).resolves.toEqual({ addresses: [{ address: PUBLIC_V6, family: 6 }] });
  });
});

describe('createUrlGuard().check — syntax rules', () => {
  const guard = createUrlGuard({ allowInsecure: false, lookup: table({ 'example.com': [PUBLIC_V4] }) });

  it('refuses http, and other schemes', async () => {
    for (const url of ['http://example.com/', 'ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'data:text/plain,hi']) {
      const err = await refusal(guard.check(url));
      expect(err.code).toBe('scheme');
      expect(err.reason).toMatch(/https only/);
    }
  });

  it('refuses URLs over 2048 characters; 2048 is fine', async () => {
    const base = 'https://example.com/';
    const exact = base + 'a'.repeat(2048 - base.length);
    expect(exact.length).toBe(2048);
    await expect(guard.check(exact)).resolves.toBeDefined();
    const err = await refusal(guard.check(exact + 'a'));
    expect(err.code).toBe('too_long');
    expect(err.reason).toMatch(/2048/);
    // As a URL object too (href length).
    expect((await refusal(guard.check(new URL(exact + 'a')))).code).toBe('too_long');
  });

  it('refuses credentials in the URL', async () => {
    for (const url of ['https://user:pw@example.com/', 'https://user@example.com/', 'https://:pw@example.com/']) {
      const err = await refusal(guard.check(url));
      expect(err.code).toBe('credentials');
    }
  });

  it('refuses garbage', async () => {
    expect((await refusal(guard.check('not a url'))).code).toBe('invalid_url');
    expect((await refusal(guard.check('https://'))).code).toBe('invalid_url');
  });
});

describe('createUrlGuard().check — resolved hostnames (injected lookup)', () => {
  const lookup = table({
    'public.test': [PUBLIC_V4, PUBLIC_V6],
    'private.test': ['10.0.0.1'],
    'loopback.test': ['127.0.0.1'],
    'loopback6.test': ['::1'],
    'metadata.test': ['169.254.169.254'],
    'cgnat.test': ['100.64.1.2'],
    'ula.test': ['fd00::1'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'mixed.test': [PUBLIC_V4, '192.168.0.10'],
    'empty.test': [],
    'garbage.test': ['not-an-ip'],
  });
  const guard = createUrlGuard({ allowInsecure: false, lookup });

  it.each([
    ['private.test', /resolves to a forbidden address: address 10\.0\.0\.1 is private/],
    ['loopback.test', /127\.0\.0\.1 is loopback/],
    ['loopback6.test', /::1 is loopback/],
    ['metadata.test', /169\.254\.169\.254 is link-local/],
    ['cgnat.test', /carrier-grade NAT/],
    ['ula.test', /unique-local/],
    ['mapped.test', /loopback \(IPv4-mapped 127\.0\.0\.1\)/],
    ['mixed.test', /192\.168\.0\.10 is private/],
    ['garbage.test', /not an IP address/],
  ])('%s is refused', async (host, why) => {
    const err = await refusal(guard.check(`https://${host}/cb`));
    expect(err.code).toBe('address');
    expect(err.reason).toMatch(why);
    expect(err.reason).toContain(host);
  });

  it('a name that does not resolve is refused as dns', async () => {
    expect(await refusal(guard.check('https://nx.test/'))).toMatchObject({ code: 'dns', reason: expect.stringMatching(/ENOTFOUND/) });
    expect(await refusal(guard.check('https://empty.test/'))).toMatchObject({ code: 'dns' });
  });

  it('a public name is allowed and returns the vetted addresses', async () => {
    await expect(guard.check('https://public.test/hook')).resolves.toEqual({
      addresses: [
        { address: PUBLIC_V4, family: 4 },
        { address: PUBLIC_V6, family: 6 },
      ],
    });
    expect(lookup.calls).toContain('public.test');
  });
});

describe('allowInsecure: true', () => {
  const lookup = table({});
  const guard = createUrlGuard({ allowInsecure: true, lookup });
  it('lifts the https and address rules but not length/credentials', async () => {
    await expect(guard.check('http://127.0.0.1:8080/cb')).resolves.toEqual({ addresses: [{ address: '127.0.0.1', family: 4 }] });
    await expect(guard.check('http://localhost:8080/cb')).resolves.toEqual({ addresses: [] });
    await expect(guard.check('https://[::1]/')).resolves.toEqual({ addresses: [{ address: '::1', family: 6 }] });
    expect((await refusal(guard.check('file:///etc/passwd'))).code).toBe('scheme');
    expect((await refusal(guard.check('http://u:p@127.0.0.1/'))).code).toBe('credentials');
    expect((await refusal(guard.check('http://127.0.0.1/' + 'a'.repeat(2048)))).code).toBe('too_long');
    expect(lookup.calls).toEqual([]);
  });
});

describe('checkRedirect (per hop)', () => {
  const guard = createUrlGuard({ allowInsecure: false, lookup: table({ 'a.test': [PUBLIC_V4], 'b.test': ['127.0.0.1'] }) });
  it('resolves relative Locations and re-checks every hop', async () => {
    const hop = await checkRedirect(guard, 'https://a.test/x/y', '../z?q=1');
    expect(hop.url.href).toBe('https://a.test/z?q=1');
    expect(hop.addresses).toEqual([{ address: PUBLIC_V4, family: 4 }]);
    expect((await refusal(checkRedirect(guard, 'https://a.test/', 'https://b.test/'))).code).toBe('address');
    expect((await refusal(checkRedirect(guard, 'https://a.test/', 'http://a.test/'))).code).toBe('scheme');
    expect((await refusal(checkRedirect(guard, 'https://a.test/', '//169.254.169.254/latest'))).reason).toMatch(/link-local/);
    expect((await refusal(checkRedirect(guard, 'https://a.test/', 'https://0x7f.1/'))).reason).toMatch(/loopback/);
  });
});

describe('isPublicAddress', () => {
  it.each([
    [PUBLIC_V4, true],
    ['8.8.8.8', true],
    [PUBLIC_V6, true],
    ['::ffff:8.8.8.8', true],
    ['127.0.0.1', false],
    ['10.0.0.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['::1', false],
    ['fc00::1', false],
    ['fe80::1', false],
    ['::ffff:127.0.0.1', false],
    ['::127.0.0.1', false],
    ['2002:a00:1::', false],
    ['64:ff9b::808:808', false],
    ['2130706433', false], // not an IP string at all: never reinterpreted
    ['0x7f.1', false],
    ['127.1', false],
    ['example.com', false],
    ['', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('createGuardedLookup (the net/tls connect hook)', () => {
  const hook = createGuardedLookup(table({ 'pub.test': [PUBLIC_V6, PUBLIC_V4], 'priv.test': [PUBLIC_V4, '10.0.0.1'] }));
  const call = (host: string, options: { all?: boolean; family?: number }) =>
    new Promise<{ err: unknown; address: unknown; family: unknown }>((resolve) =>
      hook(host, options, (err, address, family) => resolve({ err, address, family })),
    );

  it('answers with vetted addresses in both callback forms', async () => {
    expect(await call('pub.test', { all: true })).toMatchObject({
      err: null,
      address: [
        { address: PUBLIC_V6, family: 6 },
        { address: PUBLIC_V4, family: 4 },
      ],
    });
    expect(await call('pub.test', {})).toMatchObject({ err: null, address: PUBLIC_V6, family: 6 });
    expect(await call('pub.test', { family: 4 })).toMatchObject({ err: null, address: PUBLIC_V4, family: 4 });
  });

  it('refuses a name with any non-public answer', async () => {
    const r = await call('priv.test', { all: true });
    expect(r.err).toBeInstanceOf(UnsafeUrlError);
    expect((r.err as UnsafeUrlError).reason).toMatch(/10\.0\.0\.1 is private/);
  });
});
