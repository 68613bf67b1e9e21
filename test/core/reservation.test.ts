// Pure reservation math: debt-based FIFO turns, maxWait and maxSize refusals, cancellation.

import { bucketPolicy } from '../../src/policy.js';
import { applyShifts, cancel, JUMP_HORIZON_MS, MAX_SHIFTS, reserve, waitingCount, type Turn } from '../../src/reservation.js';

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
    const last = result.outcomes[1] as { turn: Turn };
    const after = cancel(tokens, slots, 10, policy, 1, last.turn);
    expect(after.tokens).toBeCloseTo(tokens + 1, 9);
    expect(waitingCount(after.slots, 10)).toBe(1);
  });

  test('cancelling a waiter with others behind it keeps its tokens spent, so nobody can overtake them', () => {
    const { tokens, slots, result } = reserve(0, [], 0, policy, [ask(), ask(), ask()], 100);
    const first = result.outcomes[0] as { turn: Turn };
    const after = cancel(tokens, slots, 10, policy, 1, first.turn);
    expect(after.tokens).toBe(tokens);
    expect(waitingCount(after.slots, 10)).toBe(2);
    // A newcomer is still due after the last waiter (300 ms).
    const newcomer = reserve(after.tokens + 0.1, after.slots, 10, policy, [ask()], 100).result.outcomes[0] as { due: number };
    expect(newcomer.due).toBeGreaterThanOrEqual(300);
  });
});

describe('priorities in the book: one FIFO by virtual arrival (arrival minus 1 s per priority level)', () => {
  // Their processes follow the book's shifts (queue.priorities).
  const low = (waitedMs = 0) => ({ cost: 1, maxWaitMs: 10_000, priority: 0, waitedMs, follow: true });
  const high = (priority = 2, waitedMs = 0) => ({ cost: 1, maxWaitMs: 10_000, priority, waitedMs, follow: true });
  const turns = (outcomes: readonly unknown[]) => outcomes.map((o) => (o as { turn: Turn }).turn);

  test('without priorities nothing goes ahead: no shift, dues as plain FIFO', () => {
    const first = reserve(0, [], 0, policy, [low(), low(), low()], 100);
    const second = reserve(first.tokens, first.slots, 0, policy, [low(4)], 100, first.ledger);
    expect(second.ledger.shifts).toEqual([]);
    expect(second.result.outcomes[0]).toMatchObject({ granted: true, due: expect.closeTo(400, 6) });
  });

  test('a priority-2 ask goes ahead of priority-0 waiters that arrived less than 2 s before it; they move back by its cost / rate', () => {
    const lows = reserve(0, [], 0, policy, [low(), low(), low()], 100);
    expect(lows.result.outcomes.map((o) => (o.granted ? o.due : -1))).toEqual([expect.closeTo(100, 6), expect.closeTo(200, 6), expect.closeTo(300, 6)]);
    // 10 ms later the refill has paid 0.1 token of the debt.
    const withHigh = reserve(lows.tokens + 0.1, lows.slots, 10, policy, [high()], 100, lows.ledger);
    // It takes the first jumpable turn (100 ms), and every slot from there on is due 100 ms later.
    expect(withHigh.result.outcomes[0]).toMatchObject({ granted: true, due: expect.closeTo(100, 6) });
    expect(withHigh.ledger.shifts).toEqual([{ seq: 1, from: 100, by: 100, until: 400 }]);
    expect(withHigh.result.shifts).toEqual(withHigh.ledger.shifts);
    // The low waiters' processes apply the shift to their turns: all three are due 100 ms later.
    const moved = turns(lows.result.outcomes).map((turn) => applyShifts(turn, withHigh.ledger.shifts));
    expect(moved).toEqual([100, 100, 100]);
    expect(turns(lows.result.outcomes).map((t) => t.due)).toEqual([expect.closeTo(200, 6), expect.closeTo(300, 6), expect.closeTo(400, 6)]);
    // Applying the same shifts again changes nothing (each turn remembers the last one it applied).
    expect(turns(lows.result.outcomes).map((turn) => applyShifts(turn, withHigh.ledger.shifts))).toEqual([0, 0, 0]);
    // The debt is the same: a later low ask still queues behind everyone.
    const later = reserve(withHigh.tokens, withHigh.slots, 10, policy, [low()], 100, withHigh.ledger);
    expect(later.result.outcomes[0]).toMatchObject({ granted: true, due: expect.closeTo(500, 6) });
  });

  test('ageing: a low waiter that has waited longer than the priority gap is not overtaken', () => {
    // At 3,000 ms: one low waiter that arrived at 0 (waited 3 s) and one that arrived at 2,900.
    const lows = reserve(-5, [], 3000, policy, [low(3000), low(100)], 100);
    const [old, recent] = turns(lows.result.outcomes) as [Turn, Turn];
    const withHigh = reserve(lows.tokens, lows.slots, 3000, policy, [high(2)], 100, lows.ledger);
    const shifts = withHigh.ledger.shifts;
    expect(shifts).toHaveLength(1);
    expect(applyShifts(old, shifts)).toBe(0);
    expect(applyShifts(recent, shifts)).toBeCloseTo(100, 6);
    expect((withHigh.result.outcomes[0] as { due: number }).due).toBeGreaterThan(old.due);
  });

  test('slots due within the horizon are not gone ahead of (their processes could not hear in time)', () => {
    const lows = reserve(0, [], 0, policy, [low(), low()], 100);
    // At 60 ms the first slot (100) is due within the horizon; the ask goes ahead of the second only.
    expect(100 - 60).toBeLessThanOrEqual(JUMP_HORIZON_MS);
    const withHigh = reserve(lows.tokens + 0.6, lows.slots, 60, policy, [high()], 100, lows.ledger);
    expect(withHigh.ledger.shifts).toEqual([expect.objectContaining({ from: 200 })]);
    const [first, second] = turns(lows.result.outcomes) as [Turn, Turn];
    expect(applyShifts(first, withHigh.ledger.shifts)).toBe(0);
    expect(applyShifts(second, withHigh.ledger.shifts)).toBeCloseTo(100, 6);
  });

  test('asks of equal priority never go ahead of each other (the order of reservations stands); a higher one needs more than the 10 ms margin', () => {
    const first = reserve(0, [], 100, policy, [low()], 100);
    // A priority-0 ask that arrived 30 ms before the waiter already reserved (a long batch window): no shift.
    const equal = reserve(first.tokens, first.slots, 100, policy, [low(30)], 100, first.ledger);
    expect(equal.ledger.shifts).toEqual([]);
    // A priority-1 ask is 1 s earlier (virtually): it goes ahead.
    const higher = reserve(first.tokens, first.slots, 100, policy, [high(1)], 100, first.ledger);
    expect(higher.ledger.shifts).toHaveLength(1);
    // A priority-0.005 ask (5 ms earlier virtually) is within the margin: no shift.
    const marginal = reserve(first.tokens, first.slots, 100, policy, [high(0.005)], 100, first.ledger);
    expect(marginal.ledger.shifts).toEqual([]);
  });

  test('waiters of a process that does not follow shifts (no queue.priorities) are never gone ahead of', () => {
    const unfollowed = reserve(0, [], 0, policy, [ask(), ask()], 100);
    const withHigh = reserve(unfollowed.tokens, unfollowed.slots, 0, policy, [high(9)], 100, unfollowed.ledger);
    expect(withHigh.ledger.shifts).toEqual([]);
    expect(withHigh.result.outcomes[0]).toMatchObject({ due: expect.closeTo(300, 6) });
  });

  test('a high ask does not go ahead of slots holding waiters of its own priority', () => {
    const highs = reserve(0, [], 0, policy, [high(), high()], 100);
    const another = reserve(highs.tokens, highs.slots, 0, policy, [high(2, 500)], 100, highs.ledger);
    expect(another.ledger.shifts).toEqual([]);
    expect(another.result.outcomes[0]).toMatchObject({ due: expect.closeTo(300, 6) });
  });

  test('a full ledger makes asks queue at the end; shifts whose waiters are all served are dropped', () => {
    const lows = reserve(0, [], 0, policy, [low(), low()], 100);
    const full = { seq: MAX_SHIFTS, shifts: Array.from({ length: MAX_SHIFTS }, (_, i) => ({ seq: i + 1, from: 5000, by: 1, until: 10_000 })) };
    const fifo = reserve(lows.tokens, lows.slots, 0, policy, [high()], 100, full);
    expect(fifo.ledger.shifts).toHaveLength(MAX_SHIFTS);
    expect(fifo.result.outcomes[0]).toMatchObject({ due: expect.closeTo(300, 6) });
    const later = reserve(fifo.tokens + 100, fifo.slots, 10_001, policy, [low()], 100, fifo.ledger);
    expect(later.ledger.shifts).toEqual([]);
    expect(later.ledger.seq).toBe(MAX_SHIFTS);
  });

  test('cancelling a waiter that was moved finds its slot where the shift put it', () => {
    const lows = reserve(0, [], 0, policy, [low(), low()], 100);
    const withHigh = reserve(lows.tokens, lows.slots, 10, policy, [high()], 100, lows.ledger);
    const last = turns(lows.result.outcomes)[1] as Turn;
    applyShifts(last, withHigh.ledger.shifts);
    const after = cancel(withHigh.tokens, withHigh.slots, 20, policy, 1, last);
    // It was the last waiter: its token goes back, and one waiter fewer waits.
    expect(after.tokens).toBeCloseTo(withHigh.tokens + 1, 9);
    expect(waitingCount(after.slots, 20)).toBe(2);
  });
});

describe('shifts respect deadlines', () => {
  test('an ask goes ahead only of slots that can wait cost / rate longer within their maxWait; else behind them', () => {
    // Two waiters due at 100 and 200 ms whose maxWait ends at 250 ms: moving them 100 ms back would
    // push the second past it, so a priority ask goes ahead of neither.
    const followed = (maxWaitMs = 10_000) => ({ cost: 1, maxWaitMs, follow: true });
    const lows = reserve(0, [], 0, policy, [followed(250), followed(250)], 100);
    const high = { cost: 1, maxWaitMs: 10_000, priority: 5, follow: true };
    const blocked = reserve(lows.tokens, lows.slots, 0, policy, [high], 100, lows.ledger);
    expect(blocked.ledger.shifts).toEqual([]);
    expect(blocked.result.outcomes[0]).toMatchObject({ due: expect.closeTo(300, 6) });
    // With room (maxWait 10 s) it goes ahead of both.
    const roomy = reserve(0, [], 0, policy, [followed(), followed()], 100);
    const ahead = reserve(roomy.tokens, roomy.slots, 0, policy, [high], 100, roomy.ledger);
    expect(ahead.result.outcomes[0]).toMatchObject({ due: expect.closeTo(100, 6) });
  });
});
