// The limiter without a queue: decisions, figures, peek, reset, close, events and argument checks.

import { createLimiter } from '../../src/limiter.js';
import { FlowgateArgumentError } from '../../src/errors.js';
import type { LimiterEvents } from '../../src/limiter-events.js';
import { MemoryStore } from '../../src/memory-store.js';

function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('Limiter without a queue', () => {
  test('admits the burst, then rejects with an honest retryAfterMs', async () => {
    const clock = manualClock();
    const limiter = createLimiter({ rate: 2, interval: '1s', burst: 3, clock, name: 'api' });
    const first = await limiter.take('k');
    expect(first).toMatchObject({ allowed: true, key: 'k', cost: 1, limit: 3, remaining: 2, retryAfterMs: 0, waitedMs: 0 });
    expect(first.resetMs).toBeCloseTo(500, 6);
    await limiter.take('k');
    await limiter.take('k');
    const rejected = await limiter.take('k');
    expect(rejected).toMatchObject({ allowed: false, reason: 'limited', remaining: 0 });
    expect(rejected.retryAfterMs).toBeCloseTo(500, 6);
    expect(rejected.resetMs).toBeCloseTo(1500, 6);
    clock.advance(500);
    expect((await limiter.take('k')).allowed).toBe(true);
  });

  test('cost is taken as a whole; a cost over burst is rejected for good', async () => {
    const limiter = createLimiter({ rate: 10, burst: 10, clock: manualClock() });
    expect(await limiter.take('k', { cost: 5 })).toMatchObject({ allowed: true, remaining: 5 });
    expect(await limiter.take('k', { cost: 6 })).toMatchObject({ allowed: false, reason: 'limited', remaining: 5 });
    expect(await limiter.take('k', { cost: 11 })).toMatchObject({ allowed: false, reason: 'cost-exceeds-burst', retryAfterMs: 0 });
    expect((await limiter.peek('k')).remaining).toBe(5);
  });

  test('a cost of 0 always passes and takes nothing', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, clock: manualClock() });
    await limiter.take('k');
    expect(await limiter.take('k', { cost: 0 })).toMatchObject({ allowed: true, remaining: 0 });
  });

  test('bad arguments reject with FlowgateArgumentError', async () => {
    const limiter = createLimiter({ rate: 1 });
    await expect(limiter.take('k', { cost: -1 })).rejects.toThrow(FlowgateArgumentError);
    await expect(limiter.take('k', { cost: Number.NaN })).rejects.toThrow(/cost=NaN/);
    await expect(limiter.take(42 as unknown as string)).rejects.toThrow(/key=42: must be a string/);
  });

  test('peek and reset', async () => {
    const limiter = createLimiter({ rate: 1, interval: '1m', burst: 4, clock: manualClock() });
    await limiter.take('k', { cost: 3 });
    expect(await limiter.peek('k')).toMatchObject({ key: 'k', limit: 4, remaining: 1, queued: 0 });
    expect((await limiter.peek('k')).resetMs).toBeCloseTo(180_000, 3);
    await limiter.reset('k');
    expect(await limiter.peek('k')).toMatchObject({ remaining: 4, resetMs: 0 });
  });

  test('refund gives unused tokens back, never above burst', async () => {
    const limiter = createLimiter({ rate: 1, interval: '1m', burst: 4, clock: manualClock() });
    await limiter.take('k', { cost: 3 });
    await limiter.refund('k', 2);
    expect((await limiter.peek('k')).remaining).toBe(3);
    await limiter.refund('k', 5);
    expect((await limiter.peek('k')).remaining).toBe(4);
    await expect(limiter.refund('k', -1)).rejects.toThrow(FlowgateArgumentError);
  });

  test('an already-aborted signal is rejected without taking', async () => {
    const limiter = createLimiter({ rate: 1, clock: manualClock() });
    const decision = await limiter.take('k', { signal: AbortSignal.abort() });
    expect(decision).toMatchObject({ allowed: false, reason: 'aborted' });
    expect((await limiter.peek('k')).remaining).toBe(1);
  });

  test('after close, takes are rejected with reason closed', async () => {
    const limiter = createLimiter({ rate: 1 });
    await limiter.close();
    expect(await limiter.take('k')).toMatchObject({ allowed: false, reason: 'closed' });
  });

  test('emits admit and reject with key and figures', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, clock: manualClock() });
    const admits: LimiterEvents['admit'][] = [];
    const rejects: LimiterEvents['reject'][] = [];
    limiter.on('admit', (e) => admits.push(e));
    limiter.on('reject', (e) => rejects.push(e));
    await limiter.take('a');
    await limiter.take('a');
    expect(admits).toEqual([{ key: 'a', cost: 1, remaining: 0, waitedMs: 0 }]);
    expect(rejects).toEqual([{ key: 'a', cost: 1, reason: 'limited', retryAfterMs: 1000, waitedMs: 0 }]);
  });
});

describe('limiters sharing a store', () => {
  test('a second open limiter of the same name with another policy is refused: the two would share buckets', async () => {
    const store = new MemoryStore();
    const pages = createLimiter({ rate: 100, interval: '1m', store });
    expect(() => createLimiter({ rate: 5, interval: '1m', store })).toThrow(
      /name="default": is used on this store by another limiter with another policy \(rate 100 per 60000 ms, burst 100; this one: rate 5 per 60000 ms, burst 5\)/,
    );
    // Its own name: fine. The same policy: fine (two app instances in one process share the limit).
    const login = createLimiter({ name: 'login', rate: 5, interval: '1m', store });
    const twin = createLimiter({ rate: 100, interval: '1m', store });
    // Once closed, the name is free again.
    await Promise.all([pages.close(), twin.close()]);
    const other = createLimiter({ rate: 5, interval: '1m', store });
    await Promise.all([login.close(), other.close()]);
    // Limiters that made their own store never clash.
    const [a, b] = [createLimiter({ rate: 1 }), createLimiter({ rate: 2 })];
    await Promise.all([a.close(), b.close()]);
  });
});
