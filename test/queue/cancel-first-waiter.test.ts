// The book after the first waiter of an entry leaves: an ask that arrived earlier does not go ahead
// of the entry's remaining waiters when they are due within the jump horizon (their processes could
// not hear of the change before their turn).

import { cancel, dueOf, JUMP_HORIZON_MS, reserve, type Book } from '../../src/reservation.js';
import { bucketPolicy } from '../../src/policy.js';

/** One token a ms. */
const policy = bucketPolicy('cancel-first', 1000, 1000, 1);

test('the first waiter of a mixed-cost entry leaves: the one left, due within the horizon, is not gone ahead of', () => {
  const now = 100;
  // E0 owes 20 tokens; E1 holds X (cost 40, its first waiter) and Y (cost 5, booked by another process behind X).
  const book: Book = {
    seq: 2,
    entries: [
      { id: 1, a: 0, count: 1, owed: 20, f: 20, d: 1e9 },
      { id: 2, a: 10, count: 2, owed: 45, f: 40, d: 1e9 },
    ],
  };
  const y = { entry: 2, before: 40 };
  const left = cancel(-65, book, now, policy, 40, { entry: 2, before: 0 });
  const yDue = dueOf(left.tokens, left.book.entries, now, policy.ratePerMs, y, 5);
  expect(yDue - now).toBe(25);
  expect(yDue - now).toBeLessThan(JUMP_HORIZON_MS);
  // An ask that arrived at 5 (before E1's waiters, after E0's), booked only now.
  const late = reserve(left.tokens, left.book, now, policy, [{ cost: 1, maxWaitMs: 1e9, waitedMs: 95 }], 1e9);
  expect(late.result.outcomes[0]).toMatchObject({ granted: true });
  // Y keeps its turn: the late ask goes behind it.
  expect(dueOf(late.tokens, late.book.entries, now, policy.ratePerMs, y, 5)).toBe(yDue);
});
