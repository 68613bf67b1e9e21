// ServerClock: ZooKeeper's time from the mtimes this process sees, on a fake local clock (pure, no server).

import { BOUND_PERIOD_MS, ServerClock } from '../../src/stores/zookeeper/server-clock.js';

/** A local clock the test moves by hand. */
function fakeClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

// The server's clock runs 50,000 ms ahead of the local one in these tests.
const OFFSET = 50_000;

describe('ServerClock', () => {
  test('knows no time until it has observed an mtime; then it is synced', () => {
    const local = fakeClock();
    const clock = new ServerClock(local);
    expect(clock.synced).toBe(false);
    expect(clock.now()).toBe(Number.NEGATIVE_INFINITY);
    clock.observe(local.now() + OFFSET - 30);
    expect(clock.synced).toBe(true);
    expect(clock.now() - local.now()).toBe(OFFSET - 30);
  });

  test('a slow reply does not pull the estimate back: the tightest bound of the period is used', () => {
    const local = fakeClock();
    const clock = new ServerClock(local);
    // A write stamped at server time T whose reply is read 2 ms later: bound OFFSET - 2.
    clock.observe(local.now() + OFFSET - 2);
    expect(clock.now() - local.now()).toBe(OFFSET - 2);
    local.advance(1_000);
    // The next reply waited 40 ms in a busy event loop: its bound is OFFSET - 40, looser.
    clock.observe(local.now() + OFFSET - 40);
    expect(clock.now() - local.now()).toBe(OFFSET - 2);
    // A read of a node written long ago gives a loose bound too, and changes nothing.
    clock.observe(local.now() + OFFSET - 5_000);
    expect(clock.now() - local.now()).toBe(OFFSET - 2);
    // A tighter one (a 1 ms reply) is taken.
    clock.observe(local.now() + OFFSET - 1);
    expect(clock.now() - local.now()).toBe(OFFSET - 1);
  });

  test('follows a server whose clock is behind after one to two periods, without ever going backwards', () => {
    const local = fakeClock();
    const clock = new ServerClock(local);
    clock.observe(local.now() + OFFSET - 1);
    const before = clock.now();
    // A new leader whose clock is 500 ms behind: its bounds are lower.
    const behind = OFFSET - 500;
    local.advance(BOUND_PERIOD_MS);
    clock.observe(local.now() + behind - 1);
    // In the next period, still the old period's bound: the estimate is not pulled back at once.
    expect(clock.now() - local.now()).toBe(OFFSET - 1);
    local.advance(BOUND_PERIOD_MS);
    clock.observe(local.now() + behind - 1);
    // One period later, only the new leader's bounds are left. The estimate has not gone below any
    // reading given before: the local clock moved 20 s, more than the 500 ms the server fell back.
    expect(clock.now() - local.now()).toBe(behind - 1);
    expect(clock.now()).toBeGreaterThanOrEqual(before);
  });

  test('after a quiet spell of two periods or more, the bound seen before it is dropped', () => {
    const local = fakeClock();
    const clock = new ServerClock(local);
    clock.observe(local.now() + OFFSET - 1);
    // Five quiet minutes; meanwhile a leader whose clock is 300 ms behind took over.
    local.advance(300_000);
    clock.observe(local.now() + OFFSET - 300 - 1);
    expect(clock.now() - local.now()).toBe(OFFSET - 300 - 1);
  });

  test('never goes backwards, and never below an mtime seen', () => {
    const local = fakeClock();
    const clock = new ServerClock(local);
    clock.observe(local.now() + OFFSET);
    const first = clock.now();
    local.advance(2 * BOUND_PERIOD_MS);
    // A server 10 minutes behind, twice (two periods): the estimate follows it down only as far as the last reading.
    clock.observe(local.now() + OFFSET - 600_000);
    local.advance(BOUND_PERIOD_MS);
    clock.observe(local.now() + OFFSET - 600_000);
    expect(clock.now()).toBeGreaterThanOrEqual(first);
    // An mtime ahead of every estimate lifts it.
    const ahead = clock.now() + 5_000;
    clock.observe(ahead);
    expect(clock.now()).toBeGreaterThanOrEqual(ahead);
  });
});
