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
    await expect(limiter.setPolicy({ interval: 'soon' })).rejects.toThrow(/interval/);
    await expect(limiter.setPolicy({ burst: 0 })).rejects.toThrow(/burst.*0/);
    await expect(limiter.setPolicy({ rat: 5 } as unknown as { rate: number })).rejects.toThrow(/rat/);
    expect(limiter.policyVersion).toBeUndefined();
    expect(limiter.policy.rate).toBe(5);
    await limiter.close();
  });
});
