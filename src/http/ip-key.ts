// Turns a client IP into a rate-limit key: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 grouped by subnet.

import { isIPv4, isIPv6 } from 'node:net';

/**
 * The default key of the HTTP adapters: the client's address, with IPv6 addresses masked to their
 * `/ipv6Subnet` network (default /56, what one customer usually gets), because one IPv6 client
 * can use a whole subnet. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes the IPv4 address.
 * A missing address gives `'unknown'`.
 */
export function ipKey(ip: string | undefined, ipv6Subnet = 56): string {
  if (ip === undefined || ip === '') return 'unknown';
  // A server sees the same few addresses again and again (a load balancer's, a NAT's): remember them.
  const memo = ipv6Subnet === 56 ? defaultSubnetKeys : undefined;
  const known = memo?.get(ip);
  if (known !== undefined) return known;
  const key = keyOf(ip, ipv6Subnet);
  if (memo !== undefined) {
    if (memo.size >= MEMO_SIZE) memo.clear();
    memo.set(ip, key);
  }
  return key;
}

/** The most addresses remembered; past it the memo starts afresh (a bound, not an LRU: hits need no bookkeeping). */
const MEMO_SIZE = 4096;
/** Keys of addresses seen, for the default /56 grouping. */
const defaultSubnetKeys = new Map<string, string>();

function keyOf(ip: string, ipv6Subnet: number): string {
  const address = ip.replace(/%.*$/, '');
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  const groups = expandIPv6(address);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [a, b] = [groups[6] as number, groups[7] as number];
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  if (ipv6Subnet >= 128) return compressIPv6(groups);
  const masked = groups.map((group, i) => {
    const bitsBefore = i * 16;
    if (bitsBefore >= ipv6Subnet) return 0;
    const keep = Math.min(16, ipv6Subnet - bitsBefore);
    return group & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${compressIPv6(masked)}/${ipv6Subnet}`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and an embedded IPv4 tail). */
function expandIPv6(address: string): number[] {
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((piece) => {
      if (!piece.includes('.')) return [parseInt(piece, 16)];
      const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = toGroups(head);
  if (tail === undefined) return left;
  const right = toGroups(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 text of eight groups: lower-case hex, the longest run of two or more zero groups as `::`. */
function compressIPv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
