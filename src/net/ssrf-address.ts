/**
 * Address classification for the SSRF guard (issue 5). Ranges come from ipaddr.js; the only thing
 * added here is "IPv6 must also be global unicast (2000::/3)", which refuses forms ipaddr.js calls
 * plain 'unicast' but that are not routable public addresses (notably IPv4-compatible ::a.b.c.d).
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
const IPV4_COMPAT_V6 = ipaddr.parseCIDR('::/96');

/** Human-readable names for ipaddr.js range labels, used in refusal reasons. */
const RANGE_NAMES: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT (100.64.0.0/10)',
  private: 'private',
  reserved: 'reserved',
  uniqueLocal: 'unique-local (fc00::/7)',
  ipv4Mapped: 'IPv4-mapped',
  rfc6145: 'IPv4-translated (RFC 6145)',
  rfc6052: 'NAT64 (RFC 6052)',
  '6to4': '6to4',
  teredo: 'Teredo',
  deprecatedSiteLocal: 'site-local (deprecated)',
  discard: 'discard-only',
  benchmarking: 'benchmarking',
  amt: 'AMT',
  as112: 'AS112',
  as112v6: 'AS112',
  deprecatedOrchid: 'ORCHID (deprecated)',
  orchid2: 'ORCHIDv2',
  droneRemoteIdProtocolEntityTags: 'DRIP',
  segmentRouting: 'segment routing (SRv6)',
};

function v4FromWords(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** The IPv4 address embedded in an IPv6 transition form, when the form says where it is. */
function embeddedV4(addr: ipaddr.IPv6, range: string): string | undefined {
  const p = addr.parts;
  const w = (i: number): number => p[i] ?? 0;
  switch (range) {
    case 'rfc6145':
      return v4FromWords(w(6), w(7));
    case 'rfc6052':
      // Well-known prefix 64:ff9b::/96 carries the IPv4 address in the low 32 bits.
      return w(2) === 0 ? v4FromWords(w(6), w(7)) : undefined;
    case '6to4':
      return v4FromWords(w(1), w(2));
    case 'teredo':
      // Client address, obfuscated (bit-inverted) in the low 32 bits.
      return v4FromWords(~w(6) & 0xffff, ~w(7) & 0xffff);
    default:
      return undefined;
  }
}

export type AddressVerdict = { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string };

/**
 * Classifies one IP address string (no brackets, no port). Accepts only what node:net considers an
 * IP; IPv4-mapped IPv6 is unwrapped (ipaddr.process) and judged as the IPv4 address it carries.
 * Allowed: IPv4 range 'unicast'; IPv6 range 'unicast' inside 2000::/3.
 */
export function classifyAddress(address: string): AddressVerdict {
  const family = isIP(address);
  if (family === 0) return { ok: false, reason: `"${address}" is not an IP address` };
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return { ok: false, reason: `"${address}" is not an IP address` };
  }
  const range = parsed.range();
  if (parsed.kind() === 'ipv4') {
    if (range === 'unicast') return { ok: true, address, family: family as 4 | 6 };
    const mapped = family === 6 ? ` (IPv4-mapped ${parsed.toString()})` : '';
    return { ok: false, reason: `address ${address} is ${RANGE_NAMES[range] ?? range}${mapped}` };
  }
  const v6 = parsed as ipaddr.IPv6;
  if (range === 'unicast') {
    if (v6.match(GLOBAL_UNICAST_V6)) return { ok: true, address, family: 6 };
    if (v6.match(IPV4_COMPAT_V6)) {
      const p = v6.parts;
      const v4 = v4FromWords(p[6] ?? 0, p[7] ?? 0);
      return { ok: false, reason: `address ${address} is IPv4-compatible IPv6 (embeds ${v4}), not global unicast` };
    }
    return { ok: false, reason: `address ${address} is not global unicast IPv6 (outside 2000::/3)` };
  }
  const v4 = embeddedV4(v6, range);
  const embeds = v4 ? ` (embeds ${v4})` : '';
  return { ok: false, reason: `address ${address} is ${RANGE_NAMES[range] ?? range}${embeds}` };
}

/** True only for a public unicast address the gateway may connect to on a user's behalf. */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address).ok;
}
