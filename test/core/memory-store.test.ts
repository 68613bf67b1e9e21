// The memory store: atomic takes, refunds, resets, and eviction of buckets that are full again.

import { MemoryStore } from '../../src/memory-store.js';
import { bucketPolicy } from '../../src/policy.js';

function manualClock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('MemoryStore', () => {
  const policy = bucketPolicy('api', 10, 1000, 5); // 10/s, burst 5

  test('a clock that steps back does not count the same refill twice', async () => {
    const clock = manualClock(1000);
    const store = new MemoryStore({ clock });
    // 10 a second, burst 5: empty at 1,000 ms, 4 left after a take at 1,500 ms.
    for (let i = 0; i < 5; i++) expect((await store.take(policy, 'k', 1)).taken).toBe(true);
    clock.advance(500);
    expect(await store.take(policy, 'k', 1)).toEqual({ taken: true, tokens: 4 });
    clock.advance(-500);
    expect(await store.take(policy, 'k', 1)).toEqual({ taken: true, tokens: 3 });
    clock.advance(500);
    // Back at 1,500 ms: nothing refilled since (it would be 5 if the bucket's time had gone back).
    expect(await store.peek(policy, 'k')).toBe(3);
  });

  test('takes until empty, then refuses, then refills', async () => {
    const clock = manualClock();
    const store = new MemoryStore({ clock });
    for (let i = 0; i < 5; i++) expect((await store.take(policy, 'k', 1)).taken).toBe(true);
    expect(await store.take(policy, 'k', 1)).toEqual({ taken: false, tokens: 0 });
    clock.advance(100);
    expect((await store.take(policy, 'k', 1)).taken).toBe(true);
  });

  test('keys and policies have separate buckets', async () => {
    const store = new MemoryStore({ clock: manualClock() });
    const other = bucketPolicy('other', 10, 1000, 5);
    await store.take(policy, 'a', 5);
    expect((await store.take(policy, 'a', 1)).taken).toBe(false);
    expect((await store.take(policy, 'b', 1)).taken).toBe(true);
    expect((await store.take(other, 'a', 1)).taken).toBe(true);
  });

  test('refund gives tokens back, capped at burst; reset makes the bucket full', async () => {
    const store = new MemoryStore({ clock: manualClock() });
    await store.take(policy, 'k', 4);
    await store.refund(policy, 'k', 3);
    expect(await store.peek(policy, 'k')).toBe(4);
    await store.refund(policy, 'k', 10);
    expect(await store.peek(policy, 'k')).toBe(5);
    await store.take(policy, 'k', 5);
    await store.reset(policy, 'k');
    expect(await store.peek(policy, 'k')).toBe(5);
  });

  test('a full bucket is not stored at all', async () => {
    const store = new MemoryStore({ clock: manualClock() });
    await store.take(policy, 'k', 0);
    expect(store.size()).toBe(0);
    await store.take(policy, 'k', 1);
    expect(store.size('api')).toBe(1);
  });

  test('a million one-off keys keep memory bounded: buckets full again are evicted', async () => {
    const clock = manualClock();
    const store = new MemoryStore({ clock });
    // burst 5 at 10/s: a bucket that lost one token is full again 100 ms later.
    let peak = 0;
    for (let i = 0; i < 1_000_000; i++) {
      await store.take(policy, `client-${i}`, 1);
      clock.advance(0.01); // 100,000 new keys per second
      if (i % 10_000 === 0) peak = Math.max(peak, store.size());
    }
    // 100 ms of keys at 100 k/s = 10,000 buckets not yet full, plus a few not yet swept.
    expect(peak).toBeLessThanOrEqual(10_020);
    expect(store.size()).toBeLessThanOrEqual(10_020);
    expect(store.size()).toBeGreaterThan(9_000);
  });

  test('eviction removes only full buckets: a drained key keeps its state', async () => {
    const clock = manualClock();
    const store = new MemoryStore({ clock });
    const slow = bucketPolicy('slow', 1, 60_000, 3); // refills in 3 minutes
    await store.take(slow, 'victim', 3);
    for (let i = 0; i < 1000; i++) {
      await store.take(slow, `k${i}`, 0.001);
      clock.advance(10);
    }
    expect((await store.take(slow, 'victim', 1)).taken).toBe(false);
  });
});
