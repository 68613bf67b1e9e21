// Priorities of waiting takes: the ranking rule with ageing, slot reassignment under deadlines, and both queues.

import { createLimiter } from '../../src/limiter.js';
import { AGING_MS, rankOf, reassignSlots, type SlotHolder } from '../../src/priority.js';
import { reservingStore as sharedReservingStore } from '../helpers/reserving-store.js';

describe('ranking', () => {
  test('rank = priority + seconds waited: an old low-priority take overtakes a fresh high one', () => {
    expect(rankOf(5, 1000, 1000)).toBe(5);
    expect(rankOf(0, 0, 3 * AGING_MS)).toBe(3);
    expect(rankOf(0, 0, 6 * AGING_MS)).toBeGreaterThan(rankOf(5, 6 * AGING_MS, 6 * AGING_MS));
  });

  test('reassignSlots: higher rank gets the earlier slot, ties by arrival, nobody past its deadline', () => {
    const holder = (priority: number, arrivedAt: number, deadline: number, slot: number): SlotHolder<number> => ({ priority, arrivedAt, deadline, slot });
    const low1 = holder(0, 0, 10_000, 100);
    const low2 = holder(0, 1, 10_000, 200);
    const high = holder(5, 2, 10_000, 300);
    expect(reassignSlots([low1, low2, high], (s) => s, 2)).toBe(true);
    expect([high.slot, low1.slot, low2.slot]).toEqual([100, 200, 300]);
    // A deadline forbids the push: low1 must be served by 200.
    const tight = holder(0, 0, 200, 100);
    const other = holder(0, 1, 10_000, 200);
    const urgent = holder(9, 2, 10_000, 300);
    reassignSlots([tight, other, urgent], (s) => s, 2);
    expect(tight.slot).toBeLessThanOrEqual(200);
    expect(urgent.slot).toBe(100);
    expect(other.slot).toBe(300);
  });
});

function manualTimers(): void {
  jest.useFakeTimers({ now: 5_000_000 });
}
afterEach(() => jest.useRealTimers());
const clock = { now: () => Date.now() };

describe('memory store queue with priorities', () => {
  test('a higher priority joins ahead of lower ones (behind the head); FIFO within a priority', async () => {
    manualTimers();
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 20, maxWait: '30s' }, clock });
    await limiter.take('k');
    const order: string[] = [];
    const takes = [
      ['low-a', 0],
      ['low-b', 0],
      ['low-c', 0],
      ['high-a', 5],
      ['high-b', 5],
      ['mid', 2],
    ].map(([label, priority]) => limiter.take('k', { priority: priority as number }).then((d) => (d.allowed ? order.push(label as string) : order.push(`${label}:${d.reason}`))));
    await jest.advanceTimersByTimeAsync(2000);
    await Promise.all(takes);
    expect(order).toEqual(['low-a', 'high-a', 'high-b', 'mid', 'low-b', 'low-c']);
    await limiter.close();
  });

  test('ageing: a low-priority take that has waited long enough is not overtaken by a fresh higher one', async () => {
    manualTimers();
    const limiter = createLimiter({ rate: 1, interval: '4s', burst: 1, queue: { maxSize: 20, maxWait: '60s' }, clock });
    await limiter.take('k');
    const order: string[] = [];
    const head = limiter.take('k').then(() => order.push('head'));
    const old = limiter.take('k').then(() => order.push('old'));
    await jest.advanceTimersByTimeAsync(3 * AGING_MS + 500); // old has waited 3.5 s: rank 3.5
    const fresh = limiter.take('k', { priority: 3 }).then(() => order.push('fresh-3'));
    const urgent = limiter.take('k', { priority: 9 }).then(() => order.push('fresh-9'));
    await jest.advanceTimersByTimeAsync(20_000);
    await Promise.all([head, old, fresh, urgent]);
    expect(order).toEqual(['head', 'fresh-9', 'old', 'fresh-3']);
    await limiter.close();
  });

  test('a higher priority is not put ahead of a waiter it would push past its maxWait', async () => {
    manualTimers();
    // 100 ms a token: a and b are due at ~100 and ~200 ms, their deadlines at 280 ms. A priority-9
    // take at 30 ms would go right behind the head (a) and push b to ~300 ms: it goes behind b.
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 20, maxWait: '280ms' }, clock });
    await limiter.take('k');
    const done: string[] = [];
    const track = (label: string, priority = 0) => limiter.take('k', { priority }).then((d) => done.push(d.allowed ? label : `${label}:${d.reason}`));
    const a = track('a');
    const b = track('b');
    await jest.advanceTimersByTimeAsync(30);
    const high = track('high', 9);
    await jest.advanceTimersByTimeAsync(2000);
    await Promise.all([a, b, high]);
    expect(done).toEqual(['a', 'b', 'high']);
    await limiter.close();
  });

  test('priority must be a finite number', async () => {
    const limiter = createLimiter({ rate: 1 });
    await expect(limiter.take('k', { priority: Number.NaN })).rejects.toThrow(/priority=NaN/);
    await limiter.close();
  });

  test('queueStats: oldestWaitMs is the longest wait in the line, also when a higher priority went ahead of an older waiter', async () => {
    manualTimers();
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 20, maxWait: '20s' }, clock });
    await limiter.take('k');
    const head = limiter.take('k');
    const old = limiter.take('k');
    await jest.advanceTimersByTimeAsync(100);
    const urgent = limiter.take('k', { priority: 10 });
    await jest.advanceTimersByTimeAsync(900);
    expect((await head).allowed).toBe(true);
    // The head now is `urgent` (waited 900 ms); `old`, behind it, has waited 1,000 ms. Before: 900.
    expect(limiter.queueStats()).toEqual({ waiting: 2, oldestWaitMs: 1000 });
    await jest.advanceTimersByTimeAsync(2000);
    expect(await urgent).toMatchObject({ allowed: true, waitedMs: 1900 });
    expect(await old).toMatchObject({ allowed: true, waitedMs: 3000 });
    await limiter.close();
  });
});

/** A memory store that also reserves, on the fake-timer clock. */
const reservingStore = (): ReturnType<typeof sharedReservingStore> => sharedReservingStore(clock);

describe('cluster queue (reserving store) with priorities', () => {
  test("a later high-priority take takes over the earliest turn of this process's low-priority waiters", async () => {
    manualTimers();
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 20, maxWait: '30s' }, clock, store: reservingStore() });
    await limiter.take('k');
    const done: Array<[string, number]> = [];
    const track = (label: string, priority: number) => limiter.take('k', { priority }).then((d) => done.push([label, Math.round(d.waitedMs)]));
    const lows = ['low-a', 'low-b', 'low-c'].map((label) => track(label, 0));
    await jest.advanceTimersByTimeAsync(20); // the lows hold turns at ~100, 200, 300 ms
    const high = track('high', 5);
    await jest.advanceTimersByTimeAsync(2000);
    await Promise.all([...lows, high]);
    expect(done.map(([label]) => label)).toEqual(['high', 'low-a', 'low-b', 'low-c']);
    await limiter.close();
  });

  test('a turn is never moved past its maxWait: waiters close to their deadline keep their places', async () => {
    manualTimers();
    // 100 ms a token. a and b hold turns at ~100 and ~200 ms with deadlines at 280 ms; the high one
    // arrives at 30 ms and gets ~300 ms (its deadline 310 ms). Giving it an earlier turn would push
    // a or b to ~300 ms, past their deadlines: nothing moves.
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 20, maxWait: '280ms' }, clock, store: reservingStore() });
    await limiter.take('k');
    const done: string[] = [];
    const a = limiter.take('k').then((d) => done.push(d.allowed ? 'a' : `a:${d.reason}`));
    const b = limiter.take('k').then((d) => done.push(d.allowed ? 'b' : `b:${d.reason}`));
    await jest.advanceTimersByTimeAsync(30);
    const high = limiter.take('k', { priority: 9 }).then((d) => done.push(d.allowed ? 'high' : `high:${d.reason}`));
    await jest.advanceTimersByTimeAsync(2000);
    await Promise.all([a, b, high]);
    expect(done).toEqual(['a', 'b', 'high']);
    await limiter.close();
  });

  test('across processes: a high-priority take of one limiter goes ahead of the low-priority waiters of another sharing the book', async () => {
    manualTimers();
    const store = reservingStore();
    // No order grace: the turns are the tokens' times.
    const options = { name: 'shared', rate: 10, burst: 1, queue: { maxSize: 20, maxWait: '30s', priorities: true, orderGrace: 0 }, clock, store };
    const [a, b] = [createLimiter(options), createLimiter(options)];
    await a.take('k');
    const done: Array<[string, number]> = [];
    const track = (limiter: typeof a, label: string, priority: number) =>
      limiter.take('k', { priority }).then((d) => done.push([label, d.allowed ? Math.round(d.waitedMs) : -1]));
    const lows = ['a-low-1', 'a-low-2', 'a-low-3'].map((label) => track(a, label, 0));
    await jest.advanceTimersByTimeAsync(20); // a's lows hold turns at ~100, 200, 300 ms
    const high = track(b, 'b-high', 5);
    await jest.advanceTimersByTimeAsync(2000);
    await Promise.all([...lows, high]);
    expect(done.map(([label]) => label)).toEqual(['b-high', 'a-low-1', 'a-low-2', 'a-low-3']);
    // Nobody was refused, and the four turns are a token (100 ms) apart: the rate holds.
    expect(done.every(([, waited]) => waited >= 0)).toBe(true);
    const finished = done.map(([label, waited]) => waited + (label === 'b-high' ? 20 : 0));
    for (let i = 1; i < finished.length; i++) expect(finished[i]! - finished[i - 1]!).toBeGreaterThanOrEqual(95);
    await Promise.all([a.close(), b.close()]);
  });

  test('without queue.priorities each limiter keeps its waiters\' turns: the high take queues behind the other\'s lows', async () => {
    manualTimers();
    const store = reservingStore();
    const options = { name: 'shared', rate: 10, burst: 1, queue: { maxSize: 20, maxWait: '30s' }, clock, store };
    const [a, b] = [createLimiter(options), createLimiter(options)];
    await a.take('k');
    const done: string[] = [];
    const lows = ['a-low-1', 'a-low-2'].map((label) => a.take('k').then(() => done.push(label)));
    await jest.advanceTimersByTimeAsync(20);
    const high = b.take('k', { priority: 5 }).then(() => done.push('b-high'));
    await jest.advanceTimersByTimeAsync(2000);
    await Promise.all([...lows, high]);
    expect(done).toEqual(['a-low-1', 'a-low-2', 'b-high']);
    await Promise.all([a.close(), b.close()]);
  });

  test('queue.priorities must be a boolean', () => {
    expect(() => createLimiter({ rate: 1, queue: { priorities: 'yes' as unknown as boolean } })).toThrow(/queue\.priorities.*yes.*true or false/);
  });
});
