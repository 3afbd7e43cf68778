/**
 * SSRF guard (issue 5, CONTRACT §4) for every URL the gateway fetches on a user's behalf: callback
 * URLs, reference-media probes, output probes.
 *
 * - `check(url)`: syntax-level rules (https only, ≤ 2048 chars, no credentials) plus the address rule:
 *   an IP-literal host is judged directly; a hostname is resolved and EVERY answer must be public.
 *   WHATWG URL parsing already turns odd IPv4 literals (2130706433, 0177.0.0.1, 0x7f.1, 127.1,
 *   %31%32%37.0.0.1, trailing dot) into dotted quads, so the address judged is the real one.
 * - `dispatcher`: an undici Agent whose connector refuses non-public IP-literal hosts before
 *   connecting, and whose `lookup` (passed through buildConnector to net/tls.connect) re-resolves and
 *   re-checks, calling back only with vetted addresses — the socket connects to exactly what was
 *   checked, so there is no DNS-rebinding window between check() and connect.
 * - Redirects: the caller follows them by hand and must call `checkRedirect()` (or `check()`) per hop.
 *
 * `allowInsecure: true` (development/tests) lifts the https rule and the address rule; the dispatcher
 * is then a plain Agent.
 *
 * What a client reads (`message`) never says what a name resolved to or whether it resolved at all:
 * that would let any key map internal DNS. The detail (`reason`) goes to the log only.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { classifyAddress, isPublicAddress } from './ssrf-address.ts';

export { isPublicAddress };

export const MAX_URL_LENGTH = 2048;

export type UnsafeUrlCode = 'invalid_url' | 'too_long' | 'scheme' | 'credentials' | 'address' | 'dns';

/** What a client is told for address and DNS refusals: the same words whatever the name resolved to. */
const NOT_ALLOWED = 'the host is not allowed or could not be resolved (it must be a public internet host)';

export class UnsafeUrlError extends Error {
  override readonly name = 'UnsafeUrlError';
  /** Why the URL was refused, in detail (e.g. "host vm resolves to … 127.0.0.1 is loopback"): for logs only. */
  readonly reason: string;
  /** Machine-readable category of `reason`. */
  readonly code: UnsafeUrlCode;
  /** `message` is safe to show a client: address and DNS refusals say only {@link NOT_ALLOWED}. */
  constructor(reason: string, code: UnsafeUrlCode) {
    super(`URL refused: ${code === 'address' || code === 'dns' ? NOT_ALLOWED : reason}`);
    this.reason = reason;
    this.code = code;
  }
}

export type ResolvedAddress = { address: string; family: 4 | 6 };
export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;

export interface UrlGuard {
  /** Throws UnsafeUrlError when the URL may not be fetched: scheme, length, credentials, literal or resolved address. Resolves with the vetted addresses. */
  check(url: URL | string): Promise<{ addresses: ResolvedAddress[] }>;
  /** An undici Dispatcher (Agent) whose connections go only to addresses that pass the guard: its connect.lookup re-resolves and re-checks (so the address connected to is the one checked), and IP-literal hosts are checked before connecting. Use for every user-URL fetch. */
  dispatcher: Dispatcher;
}

export interface UrlGuardOptions {
  allowInsecure: boolean;
  lookup?: HostLookup;
  connectTimeoutMs?: number;
  /** Where refusals are logged with their detailed reason (clients get only the generic message). */
  log?: Pick<Logger, 'info'>;
}

const defaultLookup: HostLookup = async (host) => dnsLookup(host, { all: true, verbatim: true });

/** URL.hostname without the IPv6 brackets. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function parseUrl(input: URL | string): URL {
  if (typeof input === 'string') {
    if (input.length > MAX_URL_LENGTH) {
      throw new UnsafeUrlError(`URL is longer than ${MAX_URL_LENGTH} characters`, 'too_long');
    }
    try {
      return new URL(input);
    } catch {
      throw new UnsafeUrlError('not a valid absolute URL', 'invalid_url');
    }
  }
  return input;
}

/** Judges one IP literal; throws UnsafeUrlError unless public. */
function vetLiteral(address: string): ResolvedAddress {
  const verdict = classifyAddress(address);
  if (!verdict.ok) throw new UnsafeUrlError(verdict.reason, 'address');
  return { address: verdict.address, family: verdict.family };
}

/**
 * Resolves a hostname and vets every answer: one non-public answer refuses the whole name (a mixed
 * answer is itself a rebinding signal). Throws UnsafeUrlError ('dns' / 'address').
 */
async function resolveAndVet(host: string, lookup: HostLookup): Promise<ResolvedAddress[]> {
  let answers: { address: string; family: number }[];
  try {
    answers = await lookup(host);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    throw new UnsafeUrlError(`host ${host} did not resolve${typeof code === 'string' ? ` (${code})` : ''}`, 'dns');
  }
  if (answers.length === 0) throw new UnsafeUrlError(`host ${host} did not resolve`, 'dns');
  const vetted: ResolvedAddress[] = [];
  for (const a of answers) {
    const verdict = classifyAddress(a.address);
    if (!verdict.ok) throw new UnsafeUrlError(`host ${host} resolves to a forbidden address: ${verdict.reason}`, 'address');
    vetted.push({ address: verdict.address, family: verdict.family });
  }
  return vetted;
}

type NodeLookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `net.connect`/`tls.connect` `lookup` hook that resolves through `lookup`, refuses unless every
 * answer is public, and calls back with vetted addresses only. Handles both the single-address form
 * and the `{all: true}` form Node uses for autoSelectFamily (happy eyeballs).
 */
export function createGuardedLookup(lookup: HostLookup, onRefused?: (err: UnsafeUrlError) => void) {
  return function guardedLookup(hostname: string, options: LookupOptions, callback: NodeLookupCallback): void {
    resolveAndVet(hostname, lookup).then(
      (vetted) => {
        const wanted = options.family === 4 || options.family === 6 ? vetted.filter((a) => a.family === options.family) : vetted;
        const first = wanted[0];
        if (!first) {
          const err = new UnsafeUrlError(`host ${hostname} has no vetted IPv${String(options.family)} address`, 'dns');
          callback(err as NodeJS.ErrnoException, '', undefined);
          return;
        }
        if (options.all) callback(null, wanted.map((a) => ({ address: a.address, family: a.family })));
        else callback(null, first.address, first.family);
      },
      (err: unknown) => {
        if (err instanceof UnsafeUrlError) onRefused?.(err);
        callback(err as NodeJS.ErrnoException, '', undefined);
      },
    );
  };
}

export function createUrlGuard(opts: UrlGuardOptions): UrlGuard {
  const lookup = opts.lookup ?? defaultLookup;
  const timeout = opts.connectTimeoutMs ?? 10_000;
  const logRefusal = (err: UnsafeUrlError, when: string) => opts.log?.info({ code: err.code, reason: err.reason, when }, 'URL refused');

  async function check(input: URL | string): Promise<{ addresses: ResolvedAddress[] }> {
    try {
      return await vet(input);
    } catch (err) {
      if (err instanceof UnsafeUrlError) logRefusal(err, 'check');
      throw err;
    }
  }

  async function vet(input: URL | string): Promise<{ addresses: ResolvedAddress[] }> {
    const url = parseUrl(input);
    if (url.href.length > MAX_URL_LENGTH) {
      throw new UnsafeUrlError(`URL is longer than ${MAX_URL_LENGTH} characters`, 'too_long');
    }
    const allowedSchemes = opts.allowInsecure ? ['https:', 'http:'] : ['https:'];
    if (!allowedSchemes.includes(url.protocol)) {
      throw new UnsafeUrlError(`scheme ${url.protocol.replace(/:$/, '')} is not allowed (https only)`, 'scheme');
    }
    if (url.username !== '' || url.password !== '') {
      throw new UnsafeUrlError('URL must not contain credentials', 'credentials');
    }
    const host = bareHost(url.hostname);
    if (host === '') throw new UnsafeUrlError('URL has no host', 'invalid_url');
    const literalFamily = isIP(host);
    if (opts.allowInsecure) {
      // Nothing is vetted in insecure mode; no DNS either (the fetch itself will resolve).
      return { addresses: literalFamily === 0 ? [] : [{ address: host, family: literalFamily as 4 | 6 }] };
    }
    if (literalFamily !== 0) return { addresses: [vetLiteral(host)] };
    return { addresses: await resolveAndVet(host, lookup) };
  }

  let dispatcher: Dispatcher;
  if (opts.allowInsecure) {
    dispatcher = new Agent({ connect: { timeout } });
  } else {
    const inner = buildConnector({ timeout, lookup: createGuardedLookup(lookup, (err) => logRefusal(err, 'connect')) });
    const connector: buildConnector.connector = (connectOpts, callback) => {
      // undici strips IPv6 brackets from hostname before calling the connector; be tolerant anyway.
      const host = bareHost(connectOpts.hostname);
      if (isIP(host) !== 0) {
        // net.connect skips `lookup` for IP literals, so they are judged here, before any socket.
        const verdict = classifyAddress(host);
        if (!verdict.ok) {
          const err = new UnsafeUrlError(verdict.reason, 'address');
          logRefusal(err, 'connect');
          queueMicrotask(() => callback(err, null));
          return;
        }
      }
      inner(connectOpts, callback);
    };
    dispatcher = new Agent({ connect: connector });
  }

  return { check, dispatcher };
}

/**
 * One hop of a manually followed redirect: resolves `location` against the URL that answered with it
 * and runs the full check on the result. Returns the next URL to fetch (with the vetted addresses).
 */
export async function checkRedirect(
  guard: UrlGuard,
  from: URL | string,
  location: string,
): Promise<{ url: URL; addresses: ResolvedAddress[] }> {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new UnsafeUrlError('redirect Location is not a valid URL', 'invalid_url');
  }
  const { addresses } = await guard.check(next);
  return { url: next, addresses };
}
