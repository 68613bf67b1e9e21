// The reservation queue (used with stores that reserve), run on a real in-memory book with fake timers.

import { createLimiter } from '../../src/limiter.js';
import type { BucketPolicy } from '../../src/policy.js';
import type { ReservationAsk } from '../../src/reservation.js';
import { BATCH_WINDOW_MS, DEFER_JITTER_MS, DEFER_MARGIN_MS, MAX_DEFER_MS } from '../../src/reservation-queue.js';
import { reservingStore as sharedReservingStore } from '../helpers/reserving-store.js';

const clock = { now: () => Date.now() };

/** A memory store that also reserves, on the fake-timer clock. */
const reservingStore = (): ReturnType<typeof sharedReservingStore> => sharedReservingStore(clock);

beforeEach(() => jest.useFakeTimers({ now: 5_000_000 }));
afterEach(() => jest.useRealTimers());

describe('reservation queue', () => {
  /** A reserving store that records the number of asks of each reserve call. */
  const countingStore = () => {
    const store = reservingStore();
    const batches: number[] = [];
    const reserve = store.reserve!.bind(store);
    store.reserve = (p, k, asks, maxSize) => {
      batches.push(asks.length);
      return reserve(p, k, asks, maxSize);
    };
    return { store, batches };
  };

  test.each([
    [undefined, 1],
    ['50ms', 5],
  ])('queue.batchWindow %p: the first batch gathers the takes of its window (%p of 5 takes 10 ms apart)', async (batchWindow, first) => {
    const { store, batches } = countingStore();
    const queue = batchWindow === undefined ? { maxSize: 100, maxWait: '30s' } : { maxSize: 100, maxWait: '30s', batchWindow };
    const limiter = createLimiter({ rate: 1, burst: 1, queue, clock, store });
    await limiter.take('k');
    const takes = [];
    for (let i = 0; i < 5; i++) {
      takes.push(limiter.take('k'));
      await jest.advanceTimersByTimeAsync(10);
    }
    await jest.advanceTimersByTimeAsync(20);
    expect(batches[0]).toBe(first);
    await limiter.close();
    await Promise.all(takes);
  });

  test('under a long queue a batch is held back until shortly before its turn: one write carries many waiters, served in arrival order', async () => {
    const { store, batches } = countingStore();
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 100, maxWait: '30s' }, clock, store });
    await limiter.take('k');
    const done: number[] = [];
    const takes = [];
    for (let i = 0; i < 20; i++) {
      takes.push(limiter.take('k').then((d) => (done.push(i), d)));
      await jest.advanceTimersByTimeAsync(10);
    }
    // The first waiter's turn is ~1 s away, so the others wait until DEFER_MARGIN_MS before it.
    expect(batches).toEqual([1]);
    await jest.advanceTimersByTimeAsync(MAX_DEFER_MS);
    expect(batches).toEqual([1, 19]);
    await jest.advanceTimersByTimeAsync(21_000);
    const decisions = await Promise.all(takes);
    expect(decisions.every((d) => d.allowed)).toBe(true);
    expect(done).toEqual([...Array(20).keys()]);
    // One token a second: each waiter is served ~1 s after the one before it.
    for (let i = 1; i < 20; i++) expect(decisions[i]!.waitedMs - decisions[i - 1]!.waitedMs).toBeCloseTo(990, -1);
    expect(DEFER_MARGIN_MS).toBeLessThan(1000);
    await limiter.close();
  });

  test('queueStats().oldestWaitMs is the oldest waiter\'s wait, also when a take of a higher priority went ahead of it', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '30s' }, clock, store: reservingStore() });
    await limiter.take('k');
    const older = limiter.take('k');
    await jest.advanceTimersByTimeAsync(4);
    const urgent = limiter.take('k', { priority: 10 });
    await jest.advanceTimersByTimeAsync(500);
    // The previous code looked at each list's head only: the urgent take, 4 ms younger (500).
    expect(limiter.queueStats()).toEqual({ waiting: 2, oldestWaitMs: 504 });
    await jest.advanceTimersByTimeAsync(30_000);
    expect((await urgent).waitedMs).toBeLessThan((await older).waitedMs);
    await limiter.close();
  });

  test('with maxWait 0 a take over the limit is answered at once, not after the batch window (found by a model-based run)', async () => {
    const limiter = createLimiter({ rate: 5, interval: 250, burst: 4, queue: { maxSize: 2, maxWait: 0, orderGrace: 0 }, clock, store: reservingStore() });
    expect((await limiter.take('k', { cost: 4 })).allowed).toBe(true);
    void limiter.take('k', { cost: 2, priority: 5 });
    await jest.advanceTimersByTimeAsync(0);
    const startedAt = Date.now();
    let answeredAt: number | undefined;
    const over = limiter.take('k', { cost: 2 }).then((d) => ((answeredAt = Date.now()), d));
    await jest.advanceTimersByTimeAsync(10);
    expect((await over).allowed).toBe(false);
    // The previous code answered it when the 5 ms batch window ended: 5 ms over its maxWait of 0.
    expect(answeredAt).toBe(startedAt);
    await limiter.close();
  });

  test('a queue turned off by a live change blocks no key once its waiters are answered (the line it keeps a while is no wait)', async () => {
    const limiter = createLimiter({ rate: 10, burst: 2, queue: { maxSize: 100, maxWait: '5s' }, clock, store: reservingStore() });
    for (let i = 0; i < 2; i++) expect((await limiter.take('hot')).allowed).toBe(true);
    const queued = limiter.take('hot');
    await jest.advanceTimersByTimeAsync(200);
    expect((await queued).allowed).toBe(true);
    await limiter.setPolicy({ queue: false });
    // The bucket refills; the key's line, kept for maxWait after its last waiter, holds nobody.
    await jest.advanceTimersByTimeAsync(1_000);
    // The previous code refused every take of the key ('limited', tokens there) until the queue was
    // turned on again: the line kept after the waiters counted as a queue ahead.
    expect(limiter.tryTakeSync('hot')?.allowed ?? (await limiter.take('hot')).allowed).toBe(true);
    expect((await limiter.take('hot')).allowed).toBe(true);
    await jest.advanceTimersByTimeAsync(10_000);
    expect((await limiter.take('hot')).allowed).toBe(true);
    await limiter.close();
  });

  test('a batch held back still takes its waiters\' places by arrival, ahead of a later arrival another process booked meanwhile', async () => {
    const store = reservingStore();
    const options = { name: 'shared', rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '30s' }, clock, store };
    const [a, b] = [createLimiter(options), createLimiter(options)];
    await a.take('k');
    const served: Array<[string, number]> = [];
    const track = (limiter: typeof a, label: string) => limiter.take('k').then((d) => (served.push([label, Math.round(d.waitedMs)]), d));
    const a1 = track(a, 'a1'); // booked after the 5 ms window: due in ~1 s
    await jest.advanceTimersByTimeAsync(10);
    const a2 = track(a, 'a2'); // a's queue is ~1 s long now: held back
    await jest.advanceTimersByTimeAsync(10);
    const b1 = track(b, 'b1'); // b knows of no queue: booked within 5 ms, behind a1
    await jest.advanceTimersByTimeAsync(500);
    expect(served).toEqual([]);
    await jest.advanceTimersByTimeAsync(5000);
    await Promise.all([a1, a2, b1]);
    // a2 arrived before b1 and was booked ~900 ms after it, yet is served first; b1's turn moved back.
    expect(served.map(([label]) => label)).toEqual(['a1', 'a2', 'b1']);
    expect(served.map(([, waited]) => waited)).toEqual([expect.closeTo(1000, -1), expect.closeTo(1990, -1), expect.closeTo(2980, -1)]);
    await Promise.all([a.close(), b.close()]);
  });

  test('a held-back batch is written sooner when the queue ahead shrinks, and keeps its place ahead of later arrivals', async () => {
    const store = reservingStore();
    const options = { name: 'shared', rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '30s' }, clock, store };
    const [a, b, c] = [createLimiter(options), createLimiter(options), createLimiter(options)];
    await b.take('k');
    const leaving = new AbortController();
    const bs = Array.from({ length: 4 }, () => b.take('k', { signal: leaving.signal }).catch(() => undefined)); // turns at ~1-4 s
    await jest.advanceTimersByTimeAsync(10);
    const served: string[] = [];
    const track = (limiter: typeof a, label: string) => limiter.take('k').then((d) => (d.allowed && served.push(label), d));
    const a1 = track(a, 'a1'); // booked at once (a knew of no queue): due at ~5 s
    await jest.advanceTimersByTimeAsync(10);
    const a2 = track(a, 'a2'); // a's queue is ~5 s long now: held back (up to MAX_DEFER_MS)
    await jest.advanceTimersByTimeAsync(80);
    leaving.abort(); // b's four waiters leave: a1 is due at ~1 s
    await Promise.all(bs);
    await jest.advanceTimersByTimeAsync(400);
    const c1 = track(c, 'c1'); // arrived after a2; c knows of no queue: booked at once, behind a1
    await jest.advanceTimersByTimeAsync(6000);
    await Promise.all([a1, a2, c1]);
    expect(served).toEqual(['a1', 'a2', 'c1']);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('a held-back batch is held longer when another process books asks that arrived before it (one write later, same order)', async () => {
    const store = reservingStore();
    /** The shared store as one process sees it, recording when its own reserve calls were made. */
    const processView = (calls: number[]): typeof store => ({
      ...store,
      reserve: (p, k, asks, maxSize) => {
        calls.push(Date.now() - start);
        return store.reserve!(p, k, asks, maxSize);
      },
    });
    const aCalls: number[] = [];
    // Two tokens a second: a turn every 500 ms.
    const options = { name: 'shared', rate: 2, burst: 1, queue: { maxSize: 10, maxWait: '30s' }, clock };
    const a = createLimiter({ ...options, store: processView(aCalls) });
    // b gathers its takes for 10 ms: its write lands after a2 has joined a's held batch.
    const b = createLimiter({ ...options, queue: { ...options.queue, batchWindow: '10ms' }, store: processView([]) });
    const start = Date.now();
    await a.take('k');
    const served: string[] = [];
    const track = (limiter: typeof a, label: string) => limiter.take('k').then((d) => (d.allowed && served.push(label), d));
    const a1 = track(a, 'a1'); // booked after the batch window: due at ~500 ms
    await jest.advanceTimersByTimeAsync(20);
    const b1 = track(b, 'b1'); // b knows of no queue: booked ~10 ms later, behind a1 (due at ~1 s)
    await jest.advanceTimersByTimeAsync(1);
    const a2 = track(a, 'a2'); // arrived 1 ms after b1; its turn would start at ~500 ms: held back until shortly before
    await jest.advanceTimersByTimeAsync(700);
    // a heard of b1, booked ahead of a2 (which arrived after it): a2's turn starts at ~1 s now, and
    // its write moved there (it was set for ~400 ms when a2 joined).
    expect(aCalls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(300);
    expect(aCalls).toHaveLength(2);
    expect(aCalls[1]).toBeGreaterThanOrEqual(1000 - DEFER_MARGIN_MS - DEFER_JITTER_MS - 10);
    await jest.advanceTimersByTimeAsync(1000);
    await Promise.all([a1, b1, a2]);
    expect(served).toEqual(['a1', 'b1', 'a2']);
    await Promise.all([a.close(), b.close()]);
  });

  test.each([
    ['100ms', ['a1', 'b1']],
    [undefined, ['a1', 'b1']],
    [0, ['b1', 'a1']],
  ])('queue.orderGrace %p: an earlier arrival booked late and a later one booked first in another process, as the queue forms, are served in the order %j', async (orderGrace, order) => {
    // 20 ms a token, bucket empty at 0. a1 arrives at 0, but a's booking takes 40 ms (a slow
    // direct try, a lost race); b1 arrives at 12 ms and is booked at once, due at 20 ms.
    const store = reservingStore();
    // Like the ZooKeeper store after a lost race, it books the asks as old as they are when it decides.
    const slow = {
      ...store,
      reserve: (policy: BucketPolicy, key: string, asks: readonly ReservationAsk[], maxSize: number) =>
        new Promise((r) => setTimeout(r, 40)).then(() => store.reserve!(policy, key, asks.map((ask) => ({ ...ask, waitedMs: (ask.waitedMs ?? 0) + 40, maxWaitMs: ask.maxWaitMs - 40 })), maxSize)),
    };
    const queue = { maxSize: 10, maxWait: '5s', ...(orderGrace !== undefined && { orderGrace }) };
    const a = createLimiter({ name: 'shared', rate: 50, burst: 1, queue, clock, store: slow });
    const b = createLimiter({ name: 'shared', rate: 50, burst: 1, queue, clock, store });
    await a.take('k');
    const predicted: number[] = [];
    b.on('enqueue', (event) => predicted.push(event.predictedWaitMs));
    const served: Array<[string, number]> = [];
    const track = (limiter: typeof a, label: string) => limiter.take('k').then((d) => (d.allowed && served.push([label, Math.round(d.waitedMs)]), d));
    const a1 = track(a, 'a1');
    await jest.advanceTimersByTimeAsync(12);
    const b1 = track(b, 'b1');
    await jest.advanceTimersByTimeAsync(1000);
    await Promise.all([a1, b1]);
    expect(served.map(([label]) => label)).toEqual(order);
    // With a 100 ms grace (set, or by default while the queue forms), nobody is served before 100 ms
    // after arriving; with none (0), b1 is served at its turn (~8 ms).
    const graced = orderGrace !== 0;
    if (graced) for (const [, waited] of served) expect(waited).toBeGreaterThanOrEqual(100);
    else expect(served[0]![1]).toBeLessThan(20);
    // b1's enqueue event predicts the wait it will have: its grace, or its turn.
    expect(predicted).toHaveLength(1);
    if (graced) expect(predicted[0]).toBeGreaterThanOrEqual(90);
    else expect(predicted[0]).toBeLessThan(20);
    await Promise.all([a.close(), b.close()]);
  });

  test('a waiter that leaves gives its tokens back: the waiters behind it, in its entry and in later ones, are served sooner', async () => {
    const store = reservingStore();
    // No order grace: the waiters' times are their turns.
    const limiter = createLimiter({ rate: 100, burst: 1, queue: { maxSize: 50, maxWait: '30s', orderGrace: 0 }, clock, store });
    await limiter.take('k');
    const gone = new AbortController();
    const served: Array<[number, number]> = [];
    // 8 waiters 10 ms a token: the first 5 share an entry (50 ms of tokens), the rest another.
    const takes = Array.from({ length: 8 }, (_, i) => limiter.take('k', i === 1 ? { signal: gone.signal } : {}).then((d) => (d.allowed && served.push([i, Math.round(d.waitedMs)]), d)));
    await jest.advanceTimersByTimeAsync(BATCH_WINDOW_MS + 1);
    gone.abort();
    await jest.advanceTimersByTimeAsync(200);
    await Promise.all(takes);
    expect(store.cancels).toBe(1);
    expect(served.map(([i]) => i)).toEqual([0, 2, 3, 4, 5, 6, 7]);
    // Without the cancel the last would wait ~80 ms; with its token back, ~70 ms.
    expect(served.at(-1)![1]).toBeCloseTo(70, -1);
    expect(served[1]![1]).toBeCloseTo(20, -1);
  });

  test('waiters reserve in one batch and are served in arrival order at their turn', async () => {
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock, store: reservingStore() });
    const done: string[] = [];
    const takes = ['a', 'b', 'c', 'd'].map((label) => limiter.take('k').then((d) => (done.push(label), d)));
    await jest.advanceTimersByTimeAsync(0);
    expect(done).toEqual(['a']);
    await jest.advanceTimersByTimeAsync(BATCH_WINDOW_MS + 100);
    expect(done).toEqual(['a', 'b']);
    await jest.advanceTimersByTimeAsync(200);
    const decisions = await Promise.all(takes);
    expect(done).toEqual(['a', 'b', 'c', 'd']);
    expect(decisions.every((d) => d.allowed)).toBe(true);
    expect(decisions[3]!.waitedMs).toBeCloseTo(300, 0); // the batch window counts: tokens refill meanwhile
  });

  test('a take that cannot make maxWait is refused at once, with the wait it would have had', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '2.5s' }, clock, store: reservingStore() });
    await limiter.take('k');
    // The first take's direct try fails: the three go out in one batch at once (a queue is forming).
    const rest = [limiter.take('k'), limiter.take('k'), limiter.take('k')];
    await jest.advanceTimersByTimeAsync(0);
    const third = await rest[2]!;
    expect(third).toMatchObject({ allowed: false, reason: 'limited' });
    expect(third.retryAfterMs).toBeCloseTo(3000, 0);
    await jest.advanceTimersByTimeAsync(2000);
    expect((await Promise.all(rest.slice(0, 2))).every((d) => d.allowed)).toBe(true);
  });

  test('maxSize counts the waiters already holding a turn', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 2, maxWait: '10s' }, clock, store: reservingStore() });
    await limiter.take('k');
    const first = [limiter.take('k'), limiter.take('k')];
    await jest.advanceTimersByTimeAsync(BATCH_WINDOW_MS);
    const late = limiter.take('k');
    await jest.advanceTimersByTimeAsync(BATCH_WINDOW_MS);
    expect(await late).toMatchObject({ allowed: false, reason: 'queue-full' });
    await jest.advanceTimersByTimeAsync(2000);
    expect((await Promise.all(first)).every((d) => d.allowed)).toBe(true);
  });

  test('an aborted waiter is answered at once and its reservation cancelled', async () => {
    const store = reservingStore();
    const limiter = createLimiter({ rate: 10, burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock, store });
    await limiter.take('k');
    const gone = new AbortController();
    const b = limiter.take('k', { signal: gone.signal });
    const c = limiter.take('k');
    await jest.advanceTimersByTimeAsync(BATCH_WINDOW_MS + 10);
    gone.abort();
    expect(await b).toMatchObject({ allowed: false, reason: 'aborted' });
    expect(store.cancels).toBe(1);
    await jest.advanceTimersByTimeAsync(300);
    expect(await c).toMatchObject({ allowed: true });
  });

  test('close while a batch is being reserved: its waiters are answered, their turns given back, no timer or watch left', async () => {
    const store = reservingStore();
    const reserve = store.reserve!.bind(store);
    let release: () => void = () => undefined;
    store.reserve = (p, k, asks, maxSize) => new Promise((resolve) => (release = () => resolve(reserve(p, k, asks, maxSize))));
    let watching = 0;
    const watch = store.watchReservations!.bind(store);
    store.watchReservations = (p, k, listener) => {
      watching++;
      const stop = watch(p, k, listener);
      return () => (watching--, stop());
    };
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '10s' }, clock, store });
    await limiter.take('k');
    const waiting = [limiter.take('k'), limiter.take('k')];
    await jest.advanceTimersByTimeAsync(BATCH_WINDOW_MS);
    const closed = limiter.close();
    release();
    await closed;
    await jest.advanceTimersByTimeAsync(10);
    for (const d of await Promise.all(waiting)) expect(d).toMatchObject({ allowed: false, reason: 'closed' });
    expect(store.cancels).toBe(2);
    expect(watching).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('close answers every waiter: nothing hangs, no timer left', async () => {
    const limiter = createLimiter({ rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '10s' }, clock, store: reservingStore() });
    await limiter.take('k');
    const waiting = [limiter.take('k'), limiter.take('k')];
    await jest.advanceTimersByTimeAsync(BATCH_WINDOW_MS);
    await limiter.close();
    for (const d of await Promise.all(waiting)) expect(d).toMatchObject({ allowed: false, reason: 'closed' });
    expect(jest.getTimerCount()).toBe(0);
  });
});

test('a queue turned off by a live change still serves its reserved waiters at their turns: their deadlines were fixed when they arrived', async () => {
  const store = sharedReservingStore(clock);
  // `a` has no queue of its own: a live change turns one on, then off again.
  const a = createLimiter({ name: 'shared', rate: 10, burst: 1, clock, store });
  const b = createLimiter({ name: 'shared', rate: 10, burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock, store });
  await a.setPolicy({ queue: { maxSize: 10, maxWait: '2s' } });
  expect((await a.take('k')).allowed).toBe(true);
  const waiter = a.take('k');
  await jest.advanceTimersByTimeAsync(20);
  await a.setPolicy({ queue: false });
  // b's booking changes the book: a hears it and times its waiter again.
  const other = b.take('k');
  await jest.advanceTimersByTimeAsync(1000);
  expect(await waiter).toMatchObject({ allowed: true });
  expect((await other).allowed).toBe(true);
  await a.close();
  await b.close();
});
