// Pure reservation math: debt-based FIFO turns, maxWait and maxSize refusals, cancellation.

import { bucketPolicy } from '../../src/policy.js';
import { cancel, reserve, waitingCount } from '../../src/reservation.js';

const policy = bucketPolicy('q', 10, 1000, 5); // 10/s: one token per 100 ms
const ask = (cost = 1, maxWaitMs = 10_000) => ({ cost, maxWaitMs });

describe('reservations', () => {
  test('asks that fit now are granted with no wait; the rest are due in order as the refill pays', () => {
    const { tokens, slots, result } = reserve(2, [], 0, policy, [ask(), ask(), ask(), ask(2)], 100);
    expect(result.outcomes.map((o) => (o.granted ? o.waitMs : -1))).toEqual([0, 0, expect.closeTo(100, 6), expect.closeTo(300, 6)]);
    expect(tokens).toBeCloseTo(-3, 9);
    expect(result.waiting).toBe(2);
    expect(waitingCount(slots, 0)).toBe(2);
    expect(waitingCount(slots, 400)).toBe(0);
  });

  test('a later batch queues behind an earlier one (one FIFO)', () => {
    const first = reserve(0, [], 0, policy, [ask(), ask()], 100);
    // 50 ms later the debt is 1.5 tokens: the next ask is due after both earlier ones.
    const second = reserve(first.tokens + 0.5, first.slots, 50, policy, [ask()], 100);
    const due = second.result.outcomes[0];
    expect(due).toMatchObject({ granted: true, waitMs: expect.closeTo(250, 6), due: expect.closeTo(300, 6) });
  });

  test('an ask that cannot be served within its maxWait is refused at once with the wait it would have had', () => {
    const { result } = reserve(0, [], 0, policy, [ask(1, 150), ask(1, 150)], 100);
    expect(result.outcomes[0]).toMatchObject({ granted: true });
    expect(result.outcomes[1]).toEqual({ granted: false, reason: 'limited', retryAfterMs: expect.closeTo(200, 6) });
  });

  test('maxSize counts every waiter of the bucket', () => {
    const first = reserve(0, [], 0, policy, [ask(), ask()], 3);
    const second = reserve(first.tokens, first.slots, 0, policy, [ask(), ask()], 3);
    expect(second.result.outcomes.map((o) => (o.granted ? 'ok' : o.reason))).toEqual(['ok', 'queue-full']);
  });

  test('cancelling the last waiter gives its tokens back', () => {
    const { tokens, slots, result } = reserve(0, [], 0, policy, [ask(), ask()], 100);
    const last = result.outcomes[1] as { due: number };
    const after = cancel(tokens, slots, 10, policy, 1, last.due);
    expect(after.tokens).toBeCloseTo(tokens + 1, 9);
    expect(waitingCount(after.slots, 10)).toBe(1);
  });

  test('cancelling a waiter with others behind it keeps its tokens spent, so nobody can overtake them', () => {
    const { tokens, slots, result } = reserve(0, [], 0, policy, [ask(), ask(), ask()], 100);
    const first = result.outcomes[0] as { due: number };
    const after = cancel(tokens, slots, 10, policy, 1, first.due);
    expect(after.tokens).toBe(tokens);
    expect(waitingCount(after.slots, 10)).toBe(2);
    // A newcomer is still due after the last waiter (300 ms).
    const newcomer = reserve(after.tokens + 0.1, after.slots, 10, policy, [ask()], 100).result.outcomes[0] as { due: number };
    expect(newcomer.due).toBeGreaterThanOrEqual(300);
  });
});
