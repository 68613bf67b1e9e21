// The pure parts of the ZooKeeper permits: claims against the others' holdings, the znode codec, and a lease's chunk and give-back sizes.

import { claim, decodePermits, encodePermits, holderName, memberOf } from '../../src/stores/zookeeper/permit-codec.js';
import { PermitLease } from '../../src/stores/zookeeper/permit-lease.js';
import { permitPath } from '../../src/stores/zookeeper/zookeeper-permit-store.js';

describe('claim', () => {
  test('grants what fits beside the others, never more than asked, never below 0', () => {
    expect(claim({}, 'me', 3, 5)).toEqual({ held: { me: 3 }, granted: 3, free: 2 });
    expect(claim({ a: 2, b: 2 }, 'me', 3, 5)).toEqual({ held: { a: 2, b: 2, me: 1 }, granted: 1, free: 0 });
    expect(claim({ a: 5 }, 'me', 1, 5)).toEqual({ held: { a: 5 }, granted: 0, free: 0 });
    expect(claim({ a: 7 }, 'me', 1, 5).granted).toBe(0); // another process configured a larger limit
  });

  test('what self held before does not count: a lost claim is claimed again, and giving back removes the entry', () => {
    expect(claim({ a: 4, me: 1 }, 'me', 3, 5)).toEqual({ held: { a: 4, me: 1 }, granted: 1, free: 0 });
    expect(claim({ a: 1, me: 3 }, 'me', 0, 5)).toEqual({ held: { a: 1 }, granted: 0, free: 4 });
  });
});

describe('permit znode data', () => {
  test('round-trips, with the waiting list only when someone waits', () => {
    const data = { key: 'user/42 ✓', max: 5, held: { 'm1~a': 2 }, waiting: ['m2~b'] };
    expect(decodePermits(encodePermits(data))).toEqual(data);
    expect(JSON.parse(encodePermits({ ...data, waiting: [] }).toString())).not.toHaveProperty('w');
  });

  test('refuses data flowgate did not write, and ignores counts that are not positive integers', () => {
    expect(() => decodePermits(Buffer.from('{"v":2}'))).toThrow(/did not write/);
    expect(() => decodePermits(undefined)).toThrow(/did not write/);
    expect(decodePermits(Buffer.from('{"v":1,"k":"k","max":3,"held":{"a":1,"b":0,"c":-1,"d":"2"}}')).held).toEqual({ a: 1 });
  });

  test('holder names carry the member id', () => {
    expect(memberOf(holderName('8c5e-uuid', 'x1'))).toBe('8c5e-uuid');
  });

  test('paths: hashed names, 256 shards, any key', () => {
    const path = permitPath('/flowgate', 'api', '../../etc\u0000/😀');
    expect(path).toMatch(/^\/flowgate\/permits\/[A-Za-z0-9_-]{43}\/[0-9a-f]{2}\/[A-Za-z0-9_-]{43}$/);
    expect(permitPath('/flowgate', 'api', 'a')).not.toBe(permitPath('/flowgate', 'api', 'b'));
  });
});

describe('PermitLease', () => {
  const lease = (max: number): PermitLease => new PermitLease({ name: 'p', max }, 'k', '/p');

  test('claims a chunk of about half a share, at least the acquires waiting; while others wait, up to the share', () => {
    const l = lease(20);
    expect(l.wantedHeld(1, 0)).toBe(10);
    expect(l.wantedHeld(4, 0)).toBe(2);
    expect(l.wantedHeld(30, 0)).toBe(1);
    l.wanted = 6;
    expect(l.wantedHeld(4, 0)).toBe(6);
    l.contendedUntil = 100;
    expect(l.wantedHeld(4, 0)).toBe(5); // share = 20 / 4
    l.held = 5;
    expect(l.wantedHeld(4, 0)).toBe(5); // at its share: no more
    expect(l.wantedHeld(4, 200)).toBe(11); // nobody waits any more
  });

  test('keeps what is in use and the recent peak; while others wait, no idle permit beyond the share', () => {
    const l = lease(10);
    l.held = 8;
    l.inUse = 2;
    l.peak = 6;
    expect(l.keep(2, 0)).toBe(6);
    expect(l.surplus(2, 0)).toBe(0);
    l.contendedUntil = 100;
    expect(l.keep(2, 0)).toBe(5);
    expect(l.surplus(2, 0)).toBe(3);
    expect(l.canHandOut(2, 0)).toBe(true);
    l.inUse = 5;
    expect(l.canHandOut(2, 0)).toBe(false); // at its share while others wait, though 3 are free
    expect(l.canHandOut(2, 200)).toBe(true);
  });

  test('is idle only when nothing is held, in use, pending or listed', () => {
    const l = lease(3);
    expect(l.idle).toBe(true);
    l.wanting = true;
    expect(l.idle).toBe(false);
    l.wanting = false;
    l.fallbackInUse = 1;
    expect(l.idle).toBe(false);
  });
});

describe('requests the local fallback admitted while ZooKeeper was away', () => {
  test('count against the claimed permits once it is back: none is handed out on top of them, and claims cover them first', () => {
    const lease = new PermitLease({ name: 'exports', max: 2 }, 'k', '/p');
    // Two requests admitted locally during the outage are still running; ZooKeeper is back and
    // this process holds two claimed permits.
    lease.fallbackInUse = 2;
    lease.held = 2;
    expect(lease.free).toBe(0);
    expect(lease.canHandOut(1, 0)).toBe(false);
    // A claim made now asks for the running ones plus a chunk.
    expect(lease.wantedHeld(1, 0)).toBe(3);
    // A sweep keeps the claims that cover them.
    expect(lease.keep(1, 0)).toBe(2);
    lease.fallbackInUse = 0;
    expect(lease.free).toBe(2);
  });
});
