// Limiter.setPolicy on the memory store: rate, burst, interval and queue bounds change at run time.

import { createLimiter, FlowgateConfigError, type LimiterEvents } from '../../src/index.js';

function manualClock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('Limiter.setPolicy (memory store)', () => {
  test('a higher burst and rate apply to the next take; the bucket keeps its tokens; versions count up; a policy event is emitted', async () => {
    const clock = manualClock();
    const limiter = createLimiter({ rate: 2, interval: '1s', burst: 2, clock });
    const events: Array<LimiterEvents['policy']> = [];
    limiter.on('policy', (e) => events.push(e));
    expect((await limiter.take('k')).allowed).toBe(true);
    expect((await limiter.take('k')).allowed).toBe(true);
    expect((await limiter.take('k')).allowed).toBe(false);
    const v0 = await limiter.setPolicy({ rate: 10, burst: 10 });
    // The queue is not part of the policy until an update sets it.
    expect(v0).toEqual({ rate: 10, intervalMs: 1000, burst: 10, version: 0 });
    expect(limiter.policyVersion).toBe(0);
    // Still empty (nothing refilled yet), but refills at the new rate: 100 ms gives one token.
    expect((await limiter.take('k')).allowed).toBe(false);
    clock.advance(100);
    const decision = await limiter.take('k');
    expect(decision).toMatchObject({ allowed: true, limit: 10 });
    clock.advance(10_000);
    expect((await limiter.peek('k')).remaining).toBe(10);
    const v1 = await limiter.setPolicy({ burst: 3 });
    expect(v1.version).toBe(1);
    // A lower burst caps what the bucket can hold.
    expect((await limiter.peek('k')).remaining).toBe(3);
    expect(events.map((e) => [e.version, e.rate, e.burst])).toEqual([
      [0, 10, 10],
      [1, 10, 3],
    ]);
    await limiter.close();
  });

  test('a burst left out follows a new rate when it was the default (ceil(rate)), and stays when it was set', async () => {
    const followed = createLimiter({ rate: 4, clock: manualClock() });
    expect((await followed.setPolicy({ rate: 8 })).burst).toBe(8);
    const kept = createLimiter({ rate: 4, burst: 20, clock: manualClock() });
    expect((await kept.setPolicy({ rate: 8 })).burst).toBe(20);
    await followed.close();
    await kept.close();
  });

  test('queue bounds can be turned on, changed and off at run time', async () => {
    const clock = manualClock();
    const limiter = createLimiter({ rate: 1, interval: '1s', burst: 1, clock });
    expect(limiter.queueing).toBe(false);
    await limiter.take('k');
    expect((await limiter.take('k')).reason).toBe('limited');
    await limiter.setPolicy({ queue: { maxSize: 1, maxWait: '5s' } });
    expect(limiter.queueing).toBe(true);
    const waiting = limiter.take('k');
    expect((await limiter.take('k')).reason).toBe('queue-full');
    clock.advance(1000);
    await limiter.reset('k'); // wakes the queue with the manual clock
    expect((await waiting).allowed).toBe(true);
    await limiter.setPolicy({ queue: false });
    expect(limiter.queueing).toBe(false);
    expect((await limiter.take('k')).reason).toBe('limited');
    await limiter.close();
  });

  test("an update that does not mention the queue leaves the limiter's own queue as it is; a partial queue update starts from it", async () => {
    const clock = manualClock();
    const limiter = createLimiter({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 7, maxWait: '3s' }, clock });
    const events: Array<LimiterEvents['policy']> = [];
    limiter.on('policy', (e) => events.push(e));
    await limiter.setPolicy({ rate: 2 });
    expect(limiter.queueing).toBe(true);
    expect(events[0]?.queue).toEqual({ maxSize: 7, maxWaitMs: 3000 });
    const published = await limiter.setPolicy({ queue: { maxSize: 2 } });
    expect(published.queue).toEqual({ maxSize: 2, maxWaitMs: 3000 });
    await limiter.close();
  });

  test('bad values throw FlowgateConfigError naming the option and value; nothing changes', async () => {
    const limiter = createLimiter({ rate: 5, clock: manualClock() });
    await expect(limiter.setPolicy({ rate: 0 })).rejects.toThrow(FlowgateConfigError);
    await expect(limiter.setPolicy({ rate: 5e-324 })).rejects.toThrow(/rate=5e-324: .*refills no token/);
    await expect(limiter.setPolicy({ interval: 1e-310 })).rejects.toThrow(/interval=1e-310: .*too short/);
    // As at construction: token counts beyond 2^53 hold no bucket math.
    await expect(limiter.setPolicy({ burst: 1e20 })).rejects.toThrow(/burst=100000000000000000000: must be at most 9007199254740991/);
    await expect(limiter.setPolicy({ rate: 1e308 })).rejects.toThrow(/rate=1e\+308: must be at most 9007199254740991/);
    await expect(limiter.setPolicy({ interval: 'soon' })).rejects.toThrow(/interval/);
    await expect(limiter.setPolicy({ burst: 0 })).rejects.toThrow(/burst.*0/);
    await expect(limiter.setPolicy({ rat: 5 } as unknown as { rate: number })).rejects.toThrow(/rat/);
    expect(limiter.policyVersion).toBeUndefined();
    expect(limiter.policy.rate).toBe(5);
    await limiter.close();
  });
});

describe('Limiter.setPolicy with takes waiting in the queue (memory store)', () => {
  afterEach(() => jest.useRealTimers());
  const clock = { now: () => Date.now() };

  test('a lower burst refuses at once the waiters whose cost no longer fits (cost-exceeds-burst); the line behind them goes on', async () => {
    jest.useFakeTimers({ now: 5_000_000 });
    // 50 ms a token. After the bucket is emptied, a (cost 10) is due at 500 ms and b (cost 1) at 550 ms.
    const limiter = createLimiter({ rate: 20, interval: '1s', burst: 10, queue: { maxSize: 10, maxWait: '600ms' }, clock });
    expect((await limiter.take('k', { cost: 10 })).allowed).toBe(true);
    const a = limiter.take('k', { cost: 10 });
    const b = limiter.take('k', { cost: 1 });
    await jest.advanceTimersByTimeAsync(10);
    await limiter.setPolicy({ burst: 5 });
    await jest.advanceTimersByTimeAsync(1);
    expect(await a).toMatchObject({ allowed: false, reason: 'cost-exceeds-burst' });
    await jest.advanceTimersByTimeAsync(100);
    const served = await b;
    expect(served.allowed).toBe(true);
    expect(served.waitedMs).toBeLessThan(100);
    await limiter.close();
  });

  test('a lower burst refuses at once a head whose store take was in flight and found too few tokens; the line behind it goes on', async () => {
    jest.useFakeTimers({ now: 5_000_000 });
    const limiter = createLimiter({ rate: 1, interval: '1s', burst: 5, queue: { maxSize: 10, maxWait: '10s' }, clock });
    expect((await limiter.take('k', { cost: 5 })).allowed).toBe(true);
    // `take` runs up to the store's answer synchronously: the head's take is in flight when the burst shrinks.
    const head = limiter.take('k', { cost: 5 });
    const behind = limiter.take('k', { cost: 1 });
    await limiter.setPolicy({ burst: 2 });
    await jest.advanceTimersByTimeAsync(1);
    // Before: the head (cost 5 > burst 2, never servable) waited 8 s for 'timeout' and held up the take behind it.
    expect(await head).toMatchObject({ allowed: false, reason: 'cost-exceeds-burst', retryAfterMs: 0, waitedMs: 0 });
    await jest.advanceTimersByTimeAsync(1000);
    expect(await behind).toMatchObject({ allowed: true, waitedMs: 1000 });
    await limiter.close();
  });

  test('a higher rate serves a sleeping line by the new rate, not at the old turn', async () => {
    jest.useFakeTimers({ now: 5_000_000 });
    // One token per 400 ms: the waiter is due at 400 ms; at 1,000 a second it is due at once.
    const limiter = createLimiter({ rate: 2.5, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '2s' }, clock });
    expect((await limiter.take('k')).allowed).toBe(true);
    const waiter = limiter.take('k');
    await jest.advanceTimersByTimeAsync(10);
    await limiter.setPolicy({ rate: 1000 });
    await jest.advanceTimersByTimeAsync(20);
    const decision = await waiter;
    expect(decision.allowed).toBe(true);
    expect(decision.waitedMs).toBeLessThan(50);
    // Decided under the policy in force when it was served.
    expect(decision.policy.rate).toBe(1000);
    await limiter.close();
  });

  test('a queue turned off does not let new takes go ahead of the takes still waiting in it', async () => {
    jest.useFakeTimers({ now: 5_000_000 });
    // 10 ms a token, burst 2: the waiter (cost 2) is due at 20 ms, its deadline at 25 ms.
    const limiter = createLimiter({ rate: 100, interval: '1s', burst: 2, queue: { maxSize: 10, maxWait: '25ms' }, clock });
    expect((await limiter.take('k', { cost: 2 })).allowed).toBe(true);
    const waiter = limiter.take('k', { cost: 2 });
    await jest.advanceTimersByTimeAsync(1);
    await limiter.setPolicy({ queue: false });
    await jest.advanceTimersByTimeAsync(9);
    // One token is there at 10 ms; taking it would push the waiter to 30 ms, past its deadline.
    const direct = await limiter.take('k');
    expect(direct).toMatchObject({ allowed: false, reason: 'limited' });
    expect(direct.retryAfterMs).toBeGreaterThan(0);
    await jest.advanceTimersByTimeAsync(20);
    expect(await waiter).toMatchObject({ allowed: true });
    await limiter.close();
  });

  test('a waiter admitted after a change of burst reports the new limit', async () => {
    jest.useFakeTimers({ now: 5_000_000 });
    const limiter = createLimiter({ rate: 10, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '2s' }, clock });
    expect((await limiter.take('k')).allowed).toBe(true);
    const waiter = limiter.take('k');
    await jest.advanceTimersByTimeAsync(10);
    await limiter.setPolicy({ burst: 20 });
    await jest.advanceTimersByTimeAsync(200);
    expect(await waiter).toMatchObject({ allowed: true, limit: 20 });
    await limiter.close();
  });
});

describe('concurrent takes with a small queue', () => {
  test('takes that find tokens are admitted, however many arrive while the first is being decided (maxSize counts waiters only)', async () => {
    // A manual clock: on the real one, 100 ms between the first take and the peek (a stall on a busy host) refills a token.
    const limiter = createLimiter({ rate: 10, burst: 10, queue: { maxSize: 1 }, clock: manualClock() });
    const decisions = await Promise.all([1, 2, 3, 4, 5].map(() => limiter.take('k')));
    expect(decisions.map((d) => (d.allowed ? 'ok' : d.reason))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect((await limiter.peek('k')).remaining).toBe(5);
    await limiter.close();
  });

  test('with the bucket short, maxSize still bounds the waiters: the rest are refused queue-full', async () => {
    const limiter = createLimiter({ rate: 1, interval: '10s', burst: 2, queue: { maxSize: 1, maxWait: '20s' } });
    const decisions = Promise.all([1, 2, 3, 4].map(() => limiter.take('k')));
    const settled = await Promise.race([decisions.then(() => 'all'), new Promise((resolve) => setTimeout(() => resolve('some wait'), 100))]);
    expect(settled).toBe('some wait');
    await limiter.close();
    expect((await decisions).map((d) => (d.allowed ? 'ok' : d.reason))).toEqual(['ok', 'ok', 'closed', 'queue-full']);
  });
});

describe('the refill around a live change (found by a model-based run)', () => {
  const clock = { now: () => Date.now() };
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  test('the time before a change refills at the old rate: raising the rate admits no more than burst + rate x T', async () => {
    const limiter = createLimiter({ rate: 1, interval: '1s', burst: 10, clock });
    expect((await limiter.take('k', { cost: 10 })).allowed).toBe(true);
    await jest.advanceTimersByTimeAsync(5_000);
    await limiter.setPolicy({ rate: 100 });
    // 5 s at 1/s: 5 tokens. The previous code counted those 5 s at 100/s and admitted 10 more
    // (20 in 5 s, where burst + rate x T is 15); it answered 5 only when a take had touched the bucket.
    expect(await limiter.peek('k')).toMatchObject({ remaining: 5 });
    expect((await limiter.take('k', { cost: 10 })).allowed).toBe(false);
    await jest.advanceTimersByTimeAsync(50);
    expect((await limiter.take('k', { cost: 10 })).allowed).toBe(true);
    await limiter.close();
  });

  test('lowering the rate keeps the tokens already earned', async () => {
    const limiter = createLimiter({ rate: 100, interval: '1s', burst: 10, clock });
    await limiter.take('k', { cost: 10 });
    await jest.advanceTimersByTimeAsync(50);
    await limiter.setPolicy({ rate: 1 });
    // The previous code took them back: 0 left.
    expect(await limiter.peek('k')).toMatchObject({ remaining: 5 });
    await limiter.close();
  });

  test('a take refused behind the waiters left in a queue turned off is told when the line ahead is through, whatever their costs', async () => {
    const limiter = createLimiter({ rate: 10, interval: '1s', burst: 5, queue: { maxSize: 10, maxWait: '2s' }, clock });
    await limiter.take('k', { cost: 5 });
    const waiter = limiter.take('k', { cost: 5 }); // due at 500 ms
    await jest.advanceTimersByTimeAsync(0);
    await limiter.setPolicy({ queue: false });
    const refused = await limiter.take('k', { cost: 1 });
    // The previous code reckoned every waiter at the new take's cost: 200 ms, and the retry was refused again.
    expect(refused).toMatchObject({ allowed: false, reason: 'limited', retryAfterMs: 600 });
    await jest.advanceTimersByTimeAsync(refused.retryAfterMs);
    expect((await waiter).allowed).toBe(true);
    expect((await limiter.take('k', { cost: 1 })).allowed).toBe(true);
    await limiter.close();
  });
});
