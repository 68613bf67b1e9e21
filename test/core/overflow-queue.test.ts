// The overflow queue through the limiter: FIFO, maxSize, maxWait with early rejection, abort, cost, close.

import { createLimiter, type Limiter } from '../../src/limiter.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { Decision } from '../../src/decision.js';
import type { LimiterEventName, LimiterEvents } from '../../src/limiter-events.js';

// Fake timers drive both setTimeout and the limiter's clock, so waits are exact and instant.
const clock = { now: () => Date.now() };

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  jest.useRealTimers();
});

/** Starts takes and records the order in which they settle. */
function tracker(limiter: Limiter) {
  const settled: string[] = [];
  const results = new Map<string, Decision>();
  const start = (label: string, key = 'k', cost = 1, signal?: AbortSignal) =>
    limiter.take(key, { cost, signal }).then((d) => {
      settled.push(label);
      results.set(label, d);
      return d;
    });
  return { settled, results, start };
}

function record<E extends LimiterEventName>(limiter: Limiter, event: E): LimiterEvents[E][] {
  const events: LimiterEvents[E][] = [];
  limiter.on(event, (e) => events.push(e));
  return events;
}

describe('overflow queue', () => {
  test('takes over the limit wait and are served in arrival order as tokens refill', async () => {
    const limiter = createLimiter({ rate: 10, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock });
    const { settled, results, start } = tracker(limiter);
    const all = ['a', 'b', 'c', 'd'].map((l) => start(l));
    await jest.advanceTimersByTimeAsync(0);
    expect(settled).toEqual(['a']);
    await jest.advanceTimersByTimeAsync(100);
    expect(settled).toEqual(['a', 'b']);
    await jest.advanceTimersByTimeAsync(200);
    await Promise.all(all);
    expect(settled).toEqual(['a', 'b', 'c', 'd']);
    expect(results.get('a')!.waitedMs).toBe(0);
    expect(results.get('b')).toMatchObject({ allowed: true, waitedMs: 100 });
    expect(results.get('d')).toMatchObject({ allowed: true, waitedMs: 300 });
  });

  test('a later, cheaper take never overtakes an earlier, costlier one', async () => {
    const limiter = createLimiter({ rate: 10, burst: 5, queue: { maxSize: 10, maxWait: '5s' }, clock });
    const { settled, start } = tracker(limiter);
    await start('drain', 'k', 5);
    const big = start('big', 'k', 4); // needs 400 ms
    const small = start('small', 'k', 1); // would fit after 100 ms, but must wait behind big
    await jest.advanceTimersByTimeAsync(399);
    expect(settled).toEqual(['drain']);
    await jest.advanceTimersByTimeAsync(1);
    expect(settled).toEqual(['drain', 'big']);
    await jest.advanceTimersByTimeAsync(100);
    await Promise.all([big, small]);
    expect(settled).toEqual(['drain', 'big', 'small']);
  });

  test('keys queue independently', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock });
    const { settled, start } = tracker(limiter);
    await start('a1', 'a');
    const a2 = start('a2', 'a');
    await start('b1', 'b');
    expect(settled).toEqual(['a1', 'b1']);
    await jest.advanceTimersByTimeAsync(1000);
    await a2;
    expect(settled).toEqual(['a1', 'b1', 'a2']);
  });

  test('queue full: rejected at once with reason queue-full and a Retry-After past the queue', async () => {
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 2, maxWait: '10s' }, clock });
    const { start } = tracker(limiter);
    await start('a');
    const waiting = [start('b'), start('c')];
    await jest.advanceTimersByTimeAsync(0);
    const full = await start('d');
    expect(full).toMatchObject({ allowed: false, reason: 'queue-full', waitedMs: 0 });
    expect(full.retryAfterMs).toBeCloseTo(300, 6); // b and c first, then d's own token
    await jest.advanceTimersByTimeAsync(200);
    await Promise.all(waiting);
  });

  test('a take that cannot be served within maxWait is rejected at once, not after waiting', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '2.5s' }, clock });
    const { settled, results, start } = tracker(limiter);
    await start('a');
    const b = start('b'); // 1 s
    const c = start('c'); // 2 s
    const d = start('d'); // would need 3 s > 2.5 s
    await jest.advanceTimersByTimeAsync(0);
    expect(settled).toEqual(['a', 'd']);
    expect(results.get('d')).toMatchObject({ allowed: false, reason: 'limited', waitedMs: 0 });
    expect(results.get('d')!.retryAfterMs).toBeCloseTo(3000, 6);
    await jest.advanceTimersByTimeAsync(2000);
    await Promise.all([b, c]);
    expect(settled).toEqual(['a', 'd', 'b', 'c']);
  });

  test('a waiter whose tokens are taken by someone else is rejected with timeout before its deadline passes', async () => {
    const store = new MemoryStore({ clock });
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '1.2s' }, clock, store });
    const other = createLimiter({ rate: 1, burst: 1, clock, store }); // same name, same buckets
    const timeouts = record(limiter, 'timeout');
    const { start } = tracker(limiter);
    await start('a');
    const b = start('b'); // due at 1000 ms, deadline 1200 ms
    await jest.advanceTimersByTimeAsync(500);
    expect((await other.take('k', { cost: 0.5 })).allowed).toBe(true);
    await jest.advanceTimersByTimeAsync(500);
    // At 1000 ms only 0.5 token is there; the next whole one comes at 1500 ms, past b's deadline.
    const decision = await b;
    expect(decision).toMatchObject({ allowed: false, reason: 'timeout', waitedMs: 1000 });
    expect(decision.retryAfterMs).toBeCloseTo(500, 6);
    expect(timeouts).toEqual([{ key: 'k', cost: 1, waitedMs: 1000 }]);
  });

  test('an aborted waiter leaves at once, consumes nothing, and the takes behind it move up', async () => {
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock });
    const aborts = record(limiter, 'abort');
    const { settled, results, start } = tracker(limiter);
    await start('a');
    const gone = new AbortController();
    const b = start('b', 'k', 1, gone.signal);
    const c = start('c');
    await jest.advanceTimersByTimeAsync(50);
    gone.abort();
    await b;
    expect(results.get('b')).toMatchObject({ allowed: false, reason: 'aborted', waitedMs: 50 });
    expect(aborts).toEqual([{ key: 'k', cost: 1, waitedMs: 50 }]);
    expect((await limiter.peek('k')).queued).toBe(1);
    await jest.advanceTimersByTimeAsync(50);
    await c;
    expect(results.get('c')).toMatchObject({ allowed: true, waitedMs: 100 }); // b's token went to c
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  test('aborting a costly head lets a cheaper take behind it be served sooner', async () => {
    const limiter = createLimiter({ rate: 10, burst: 5, queue: { maxSize: 10, maxWait: '5s' }, clock });
    const { results, start } = tracker(limiter);
    await start('drain', 'k', 5);
    const gone = new AbortController();
    const big = start('big', 'k', 5, gone.signal); // 500 ms
    const small = start('small', 'k', 1);
    await jest.advanceTimersByTimeAsync(100);
    gone.abort();
    await big;
    await jest.advanceTimersByTimeAsync(0);
    await small;
    expect(results.get('small')).toMatchObject({ allowed: true, waitedMs: 100 });
  });

  test('events: enqueue with position and predicted wait, dequeue with waited time', async () => {
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock });
    const enqueues = record(limiter, 'enqueue');
    const dequeues = record(limiter, 'dequeue');
    const { start } = tracker(limiter);
    await start('a');
    const b = start('b');
    const c = start('c');
    await jest.advanceTimersByTimeAsync(0);
    expect(enqueues).toEqual([
      { key: 'k', cost: 1, position: 0, queueSize: 1, predictedWaitMs: expect.closeTo(100, 6) },
      { key: 'k', cost: 1, position: 1, queueSize: 2, predictedWaitMs: expect.closeTo(200, 6) },
    ]);
    await jest.advanceTimersByTimeAsync(200);
    await Promise.all([b, c]);
    expect(dequeues).toEqual([
      { key: 'k', cost: 1, waitedMs: 100 },
      { key: 'k', cost: 1, waitedMs: 200 },
    ]);
  });

  test('at most one timer per key with waiters, none for idle keys', async () => {
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 100, maxWait: '50s' }, clock });
    const { start } = tracker(limiter);
    for (let i = 0; i < 20; i++) await start(`idle${i}`, `idle${i}`);
    expect(jest.getTimerCount()).toBe(0);
    const waits = [];
    for (const key of ['x', 'y']) {
      await start(`${key}0`, key);
      for (let i = 1; i <= 30; i++) waits.push(start(`${key}${i}`, key));
    }
    await jest.advanceTimersByTimeAsync(0);
    expect(jest.getTimerCount()).toBe(2);
    await jest.advanceTimersByTimeAsync(3000);
    await Promise.all(waits);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('reset serves the waiters at once', async () => {
    const limiter = createLimiter({ rate: 1, interval: '1m', burst: 2, queue: { maxSize: 10, maxWait: '5m' }, clock });
    const { results, start } = tracker(limiter);
    await start('drain', 'k', 2);
    const b = start('b');
    await jest.advanceTimersByTimeAsync(10);
    await limiter.reset('k');
    await jest.advanceTimersByTimeAsync(0);
    await b;
    expect(results.get('b')).toMatchObject({ allowed: true, waitedMs: 10 });
  });

  test('close answers every waiter with reason closed: nothing hangs', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '1m' }, clock });
    const { start } = tracker(limiter);
    await start('a');
    const waiting = [start('b'), start('c')];
    await jest.advanceTimersByTimeAsync(0);
    await limiter.close();
    for (const d of await Promise.all(waiting)) expect(d).toMatchObject({ allowed: false, reason: 'closed' });
    expect(jest.getTimerCount()).toBe(0);
  });

  test('many concurrent takes: every one answered, admitted ones never exceed burst + rate x T', async () => {
    const limiter = createLimiter({ rate: 100, burst: 10, queue: { maxSize: 50, maxWait: '300ms' }, clock });
    const decisions = await (async () => {
      const all = Array.from({ length: 200 }, (_, i) => limiter.take(`k${i % 2}`));
      await jest.advanceTimersByTimeAsync(1000);
      return Promise.all(all);
    })();
    expect(decisions).toHaveLength(200);
    const admitted = decisions.filter((d) => d.allowed);
    for (const key of ['k0', 'k1']) {
      const mine = admitted.filter((d) => d.key === key);
      // within 300 ms of waiting: 10 burst + 100/s * 0.3 s = 40
      expect(mine.length).toBe(40);
      expect(Math.max(...mine.map((d) => d.waitedMs))).toBeLessThanOrEqual(300);
    }
    const reasons = new Set(decisions.filter((d) => !d.allowed).map((d) => d.reason));
    expect([...reasons].every((r) => r === 'queue-full' || r === 'limited')).toBe(true);
  });
});

describe('found by a model-based run against the documented semantics', () => {
  test('a take whose predicted wait is exactly maxWait is served at its turn, not timed out by a rounding error', async () => {
    const limiter = createLimiter({ rate: 3, interval: 500, burst: 3, queue: { maxSize: 3, maxWait: 500 }, clock });
    expect((await limiter.take('k', { cost: 2 })).allowed).toBe(true);
    const second = limiter.take('k', { cost: 2 }); // due after 166.7 ms
    const third = limiter.take('k', { cost: 2 }); // due after exactly 500 ms = maxWait
    await jest.advanceTimersByTimeAsync(600);
    const [s, t] = await Promise.all([second, third]);
    expect(s.allowed).toBe(true);
    // The previous code timed it out after 500 ms: its wait, recomputed, came to 500.00000000000006.
    expect([t.allowed, Math.round(t.waitedMs)]).toEqual([true, 500]);
    await limiter.close();
  });

  test('takes that need the whole bucket: one that whole-ms timers would serve past maxWait is refused at once, not after waiting', async () => {
    // One token in 166.7 ms, burst 1: each waiter is served at the next whole ms, and the refill of
    // that fraction is lost to the full bucket, so the line drifts back by it.
    const limiter = createLimiter({ rate: 3, interval: 500, burst: 1, queue: { maxSize: 10, maxWait: 667 }, clock });
    await limiter.take('k');
    const waiters = [1, 2, 3, 4].map(() => limiter.take('k'));
    await jest.advanceTimersByTimeAsync(2000);
    const decisions = await Promise.all(waiters);
    // The previous code let the fourth wait (predicted 666.7 ms) and timed it out at 667 ms.
    expect(decisions.map((d) => [d.allowed ? 'ok' : d.reason, Math.round(d.waitedMs)])).toEqual([
      ['ok', 167],
      ['ok', 334],
      ['ok', 501],
      ['limited', 0],
    ]);
    await limiter.close();
  });

  test('FIFO within a priority holds after a waiter was put behind a lower one for its deadline', async () => {
    const limiter = createLimiter({ rate: 10, interval: '1s', burst: 10, queue: { maxSize: 10, maxWait: '1s' }, clock });
    await limiter.take('k', { cost: 10 });
    const order: string[] = [];
    const start = (label: string, cost: number, priority: number): Promise<number> => limiter.take('k', { cost, priority }).then((d) => order.push(`${label}:${d.allowed ? 'ok' : d.reason}`));
    const h = start('H', 1, 0);
    const l = start('L', 1, -1); // deadline 1 s
    await jest.advanceTimersByTimeAsync(0);
    await limiter.setPolicy({ queue: { maxWait: '5s' } });
    await jest.advanceTimersByTimeAsync(50);
    const b = start('B', 9, 0); // ahead of L it would push L past its deadline: it stays behind L
    await jest.advanceTimersByTimeAsync(10);
    const c = start('C', 1, 0); // the same priority as B, later
    await jest.advanceTimersByTimeAsync(5000);
    await Promise.all([h, l, b, c]);
    // The previous code put C ahead of B (at the first lower-ranked waiter, L).
    expect(order).toEqual(['H:ok', 'L:ok', 'B:ok', 'C:ok']);
    await limiter.close();
  });
});
