/**
 * SSRF guard for `http` steps. A request may only reach hosts on the step's allowlist (when it has one),
 * and never a private, loopback, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast or
 * reserved address unless allowed. Addresses are checked where the connection is made — in the DNS
 * lookup the socket uses and again on the connected socket's peer — so a name that resolves to a public
 * address when checked and a private one when connected (DNS rebinding) cannot slip through.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type Socket } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { ExecutorError } from './types.js';

const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (ULA)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // old site-local
  ['ff00::', 8], // multicast
] as const)
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');

/** Is this IP address anything but a public unicast address? (IPv4-mapped/NAT64 IPv6 judged by the IPv4.) */
export function isNonPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return NON_PUBLIC.check(bare, 'ipv4');
  if (family !== 6) return true;
  const embedded = embeddedIpv4(bare);
  if (embedded.length > 0) return embedded.some((v4) => NON_PUBLIC.check(v4, 'ipv4'));
  return NON_PUBLIC.check(bare, 'ipv6');
}

/**
 * The IPv4 addresses inside an IPv6 address that carries one: IPv4-compatible (`::a.b.c.d`, which URL
 * parsers write as `[::7f00:1]`), IPv4-mapped (`::ffff:…`), SIIT (`::ffff:0:…`), NAT64 (`64:ff9b::/96`),
 * 6to4 (`2002::/16`) and Teredo (`2001::/32`: the server and the obfuscated client address).
 */
function embeddedIpv4(address: string): string[] {
  const b = ipv6Bytes(address);
  if (!b) return [];
  const v4 = (at: number, flip = 0) => [0, 1, 2, 3].map((i) => b[at + i]! ^ flip).join('.');
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 10) && ((b[10] === 0 && b[11] === 0) || (b[10] === 0xff && b[11] === 0xff))) return [v4(12)];
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) return [v4(12)];
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return [v4(12)];
  if (b[0] === 0x20 && b[1] === 0x02) return [v4(2)];
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return [v4(4), v4(12, 0xff)];
  return [];
}

/** The 16 bytes of an IPv6 address (with `::` and a dotted IPv4 tail expanded). */
function ipv6Bytes(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (all.length !== 8) return undefined;
  return all.flatMap((g) => {
    const n = parseInt(g || '0', 16);
    return [n >> 8, n & 255];
  });
}

/** Does `hostname` match the allowlist (exact names, or `*.example.com` for any subdomain)? */
export function hostAllowed(hostname: string, allowHosts: readonly string[] | undefined): boolean {
  if (!allowHosts || allowHosts.length === 0) return true;
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  return allowHosts.some((pattern) => {
    const p = pattern.toLowerCase().replace(/\.$/, '');
    return p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p;
  });
}

/** Refused by the guard: `host_not_allowed`, `address_refused` or `scheme_refused`. */
export class HttpGuardError extends ExecutorError {}

/** What a URL must satisfy before a request (or a redirect) goes out. */
export interface GuardPolicy {
  allowHosts?: readonly string[];
  allowPrivate: boolean;
}

/** Check scheme, allowlist and literal IP of a URL; the resolved address is checked at connect time. */
// Exported for the MCP executor and Spec Kit's git source, which go through the same guard.
export function checkUrl(url: URL, policy: GuardPolicy): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new HttpGuardError('scheme_refused', `only http and https URLs are allowed, not ${url.protocol}`);
  if (url.username || url.password)
    throw new HttpGuardError('credentials_in_url', 'credentials in the URL are not allowed; use a header');
  if (!hostAllowed(url.hostname, policy.allowHosts))
    throw new HttpGuardError('host_not_allowed', `host ${url.hostname} is not in the step's allow_hosts`);
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivate && isIP(literal) && isNonPublicAddress(literal))
    throw refused(url.hostname, literal);
}

function refused(hostname: string, address: string): HttpGuardError {
  return new HttpGuardError(
    'address_refused',
    `${hostname} is a private, loopback or link-local address (${address}); set allow_private to reach it`,
  );
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `dns.lookup` that fails when any address of the name is not public. */
function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isNonPublicAddress(a.address));
    if (bad) return callback(refused(hostname, bad.address) as unknown as NodeJS.ErrnoException, []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

/**
 * An undici Agent whose every connection goes through the guard: names resolved by the guarded lookup,
 * and the connected peer address checked once more (this also covers IP literals, which skip lookup).
 */
export function createGuardedAgent(allowPrivate: boolean): Agent {
  if (allowPrivate) return new Agent();
  const connector = buildConnector({ lookup: guardedLookup } as buildConnector.BuildOptions);
  return new Agent({
    connect(options, callback) {
      const literal = options.hostname.replace(/^\[|\]$/g, '');
      if (isIP(literal) && isNonPublicAddress(literal))
        return callback(refused(options.hostname, literal), null);
      connector(options, (err, socket) => {
        if (err) return callback(err, null);
        const peer = (socket as Socket).remoteAddress;
        if (peer && isNonPublicAddress(peer)) {
          socket.destroy();
          return callback(refused(options.hostname, peer), null);
        }
        callback(null, socket);
      });
    },
  });
}

/** The guard's refusal inside an error undici may have wrapped. */
export function guardRefusal(err: unknown): HttpGuardError | undefined {
  for (let e = err; e; e = (e as { cause?: unknown }).cause) if (e instanceof HttpGuardError) return e;
  return undefined;
}
