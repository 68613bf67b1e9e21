// Pure reservation math: the book in arrival order, debt-based turns, maxWait and maxSize refusals, cancellation.

import { bucketPolicy } from '../../src/policy.js';
import { cancel, dueOf, EMPTY_BOOK, ENTRY_SPAN_MS, JUMP_HORIZON_MS, MAX_ENTRIES, ORDER_WINDOW_MS, pendingEntries, reserve, waitingCount, type Book, type Turn } from '../../src/reservation.js';

const policy = bucketPolicy('q', 10, 1000, 5); // 10/s: one token per 100 ms
const rate = policy.ratePerMs;
/** 100/s: 10 ms a token, so that an entry (ENTRY_SPAN_MS of tokens) holds several waiters. */
const fast = bucketPolicy('f', 100, 1000, 5);
/** An ask that arrived `waitedMs` before the reservation (a batch held back that long). */
const ask = (cost = 1, maxWaitMs = 10_000, waitedMs = 0, priority = 0) => ({ cost, maxWaitMs, waitedMs, priority });
const turnOf = (outcome: unknown): Turn => (outcome as { turn: Turn }).turn;
const dues = (tokens: number, book: Book, now: number, turns: readonly Turn[]) => turns.map((turn) => dueOf(tokens, book.entries, now, rate, turn, 1));

describe('reservations', () => {
  test('asks that fit now are granted with no wait; the rest are due in order as the refill pays', () => {
    const { tokens, book, result } = reserve(2, EMPTY_BOOK, 0, policy, [ask(), ask(), ask(), ask(2)], 100);
    expect(result.outcomes.map((o) => (o.granted ? o.waitMs : -1))).toEqual([0, 0, expect.closeTo(100, 6), expect.closeTo(300, 6)]);
    expect(tokens).toBeCloseTo(-3, 9);
    expect(result.waiting).toBe(2);
    expect(waitingCount(tokens, book.entries, 0, rate)).toBe(2);
    // 400 ms later the refill has paid the debt: nobody waits, and the paid entries leave the book.
    expect(waitingCount(tokens + 4, book.entries, 400, rate)).toBe(0);
    expect(pendingEntries(tokens + 4, book.entries, 400, rate)).toEqual([]);
  });

  test('a later batch queues behind an earlier one (one FIFO)', () => {
    const first = reserve(0, EMPTY_BOOK, 0, policy, [ask(), ask()], 100);
    // 50 ms later the debt is 1.5 tokens: the next ask is due after both earlier ones.
    const second = reserve(first.tokens + 0.5, first.book, 50, policy, [ask()], 100);
    expect(second.result.outcomes[0]).toMatchObject({ granted: true, waitMs: expect.closeTo(250, 6), due: expect.closeTo(300, 6) });
  });

  test('an ask that cannot be served within its maxWait is refused at once with the wait it would have had', () => {
    const { result } = reserve(0, EMPTY_BOOK, 0, policy, [ask(1, 150), ask(1, 150)], 100);
    expect(result.outcomes[0]).toMatchObject({ granted: true });
    expect(result.outcomes[1]).toEqual({ granted: false, reason: 'limited', retryAfterMs: expect.closeTo(200, 6) });
  });

  test('maxSize counts every waiter of the bucket', () => {
    const first = reserve(0, EMPTY_BOOK, 0, policy, [ask(), ask()], 3);
    const second = reserve(first.tokens, first.book, 0, policy, [ask(), ask()], 3);
    expect(second.result.outcomes.map((o) => (o.granted ? 'ok' : o.reason))).toEqual(['ok', 'queue-full']);
  });

  test('asks arriving within one window form one entry; each waiter knows what is owed ahead of it there', () => {
    const { tokens, book, result } = reserve(0, EMPTY_BOOK, 100, fast, [ask(1, 10_000, 8), ask(2, 10_000, 4), ask(1, 10_000, 0)], 100);
    expect(book.entries).toHaveLength(1);
    expect(book.entries[0]).toMatchObject({ count: 3, owed: 4, a: 92 });
    expect(result.outcomes.map(turnOf).map((t) => t.before)).toEqual([0, 1, 3]);
    expect(result.outcomes.map(turnOf).map((turn, i) => dueOf(tokens, book.entries, 100, fast.ratePerMs, turn, [1, 2, 1][i]!))).toEqual([
      expect.closeTo(110, 6),
      expect.closeTo(130, 6),
      expect.closeTo(140, 6),
    ]);
    // Asks further apart than the window get entries of their own.
    const apart = reserve(0, EMPTY_BOOK, 100, fast, [ask(1, 10_000, 40), ask(1, 10_000, 20), ask(1, 10_000, 0)], 100);
    expect(apart.book.entries).toHaveLength(3);
    // So do asks whose tokens would make an entry hold more than ENTRY_SPAN_MS of refill.
    const long = reserve(0, EMPTY_BOOK, 100, fast, Array.from({ length: 12 }, () => ask()), 100);
    expect(long.book.entries.map((entry) => entry.count)).toEqual([5, 5, 2]);
    expect(ENTRY_SPAN_MS * fast.ratePerMs).toBe(5);
  });

  test('cancelling a waiter gives its tokens back: everyone behind it is due sooner, in the same order', () => {
    const first = reserve(0, EMPTY_BOOK, 0, policy, [ask()], 100);
    const second = reserve(first.tokens, first.book, 0, policy, [ask(1, 10_000, 0)], 100);
    const third = reserve(second.tokens, second.book, 0, policy, [ask()], 100);
    const [a, b, c] = [first, second, third].map((r) => turnOf(r.result.outcomes[0]));
    const after = cancel(third.tokens, third.book, 10, policy, 1, a!);
    expect(after.tokens).toBeCloseTo(third.tokens + 1, 9);
    expect(after.book.entries).toHaveLength(2);
    expect(waitingCount(after.tokens + 0.1, after.book.entries, 10, rate)).toBe(2);
    expect(dues(after.tokens + 0.1, after.book, 10, [b!, c!])).toEqual([expect.closeTo(100, 6), expect.closeTo(200, 6)]);
    // A newcomer still queues behind them.
    const newcomer = reserve(after.tokens + 0.1, after.book, 10, policy, [ask()], 100).result.outcomes[0];
    expect(newcomer).toMatchObject({ due: expect.closeTo(300, 6) });
  });

  test('cancelling a waiter that is due already changes nothing', () => {
    const { tokens, book, result } = reserve(0, EMPTY_BOOK, 0, policy, [ask(), ask(1, 10_000, 0)], 100);
    const after = cancel(tokens + 1, book, 100, policy, 1, turnOf(result.outcomes[0]));
    expect(after.tokens).toBeCloseTo(tokens + 1, 9);
  });

  test('a waiter whose entry left the book (paid) is due now', () => {
    expect(dueOf(-3, [], 500, rate, { entry: 7, before: 0 }, 1)).toBe(500);
  });

  test("the book's booking marks are kept by reservations, cancels and pruning, also once nobody waits", () => {
    const w = { p1: 4, p2: 9 };
    const booked = reserve(0, { ...EMPTY_BOOK, w }, 0, policy, [ask()], 100);
    expect(booked.book.w).toEqual(w);
    const cancelled = cancel(booked.tokens, booked.book, 10, policy, 1, turnOf(booked.result.outcomes[0]));
    expect(cancelled.book).toMatchObject({ entries: [], w });
    const later = reserve(5, cancelled.book, 5_000, policy, [ask()], 100);
    expect(later.book.w).toEqual(w);
  });
});

describe('the book in arrival order: a batch reserved late takes its waiters\' places', () => {
  test('an ask that arrived more than the window earlier goes ahead of later waiters; they are due later by its cost / rate', () => {
    // At 0: a head waiter that arrived at -50, then process A's two waiters that arrived at 0.
    const head = reserve(0, EMPTY_BOOK, 0, policy, [ask(1, 10_000, 50)], 100);
    const a = reserve(head.tokens, head.book, 0, policy, [ask(), ask()], 100);
    expect(a.book.entries).toHaveLength(3);
    // Process B books a waiter that arrived at -30 (it held its batch back): it goes ahead of A's,
    // not of the head.
    const b = reserve(a.tokens, a.book, 0, policy, [ask(1, 10_000, 30)], 100);
    expect(b.result.outcomes[0]).toMatchObject({ granted: true, due: expect.closeTo(200, 6) });
    const aTurns = a.result.outcomes.map(turnOf);
    expect(dues(b.tokens, b.book, 0, aTurns)).toEqual([expect.closeTo(300, 6), expect.closeTo(400, 6)]);
    // The debt is the same: a later ask still queues behind everyone.
    const later = reserve(b.tokens, b.book, 0, policy, [ask()], 100);
    expect(later.result.outcomes[0]).toMatchObject({ due: expect.closeTo(500, 6) });
    // The book update a write returns times the waiters reserved before.
    expect(aTurns.map((turn) => b.result.update!.waitOf(turn, 1))).toEqual([expect.closeTo(300, 6), expect.closeTo(400, 6)]);
  });

  test('an ask that arrived within the window after an entry\'s first waiter joins that entry, behind its waiters; one that arrived before it goes ahead', () => {
    // 10 ms a token here: the head is due at 110, A's waiter at 120.
    const head = reserve(0, EMPTY_BOOK, 100, fast, [ask(1, 10_000, 100)], 100);
    const a = reserve(head.tokens, head.book, 100, fast, [ask(1, 10_000, 20)], 100); // arrived at 80
    expect(a.book.entries).toHaveLength(2); // arrived more than the window after the head
    // Due times beyond the horizon, for the test: 100 tokens owed ahead.
    const deep = -100;
    const joins = reserve(a.tokens + deep, a.book, 100, fast, [ask(1, 10_000, 20 - ORDER_WINDOW_MS)], 100); // at 90
    expect(joins.book.entries).toHaveLength(2);
    expect(joins.result.outcomes[0]).toMatchObject({ due: expect.closeTo(1130, 6) });
    const ahead = reserve(a.tokens + deep, a.book, 100, fast, [ask(1, 10_000, 21)], 100); // at 79
    expect(ahead.result.outcomes[0]).toMatchObject({ due: expect.closeTo(1120, 6) });
    expect(ahead.book.entries).toHaveLength(3);
    expect(dueOf(ahead.tokens, ahead.book.entries, 100, fast.ratePerMs, turnOf(a.result.outcomes[0]), 1)).toBeCloseTo(1130, 6);
  });

  test('entries whose first waiter is due within the horizon are not gone ahead of (their processes could not hear in time)', () => {
    // Three waiters that arrived at 0, 0 and 20, due at 100, 200 and 300 ms.
    const a = reserve(0, EMPTY_BOOK, 0, policy, [ask()], 100);
    const b = reserve(a.tokens, a.book, 0, policy, [ask()], 100);
    const c = reserve(b.tokens, b.book, 20, policy, [ask()], 100);
    // At 60 ms the first is due within the horizon; an ask that arrived at -10 goes ahead of the other two only.
    expect(60 + JUMP_HORIZON_MS).toBeGreaterThan(100);
    const late = reserve(c.tokens + 0.6, c.book, 60, policy, [ask(1, 10_000, 70)], 100);
    expect(late.result.outcomes[0]).toMatchObject({ due: expect.closeTo(200, 6) });
    expect(dues(late.tokens, late.book, 60, [a, b, c].map((r) => turnOf(r.result.outcomes[0])))).toEqual([expect.closeTo(100, 6), expect.closeTo(300, 6), expect.closeTo(400, 6)]);
  });

  test('an ask goes ahead only of entries that can wait cost / rate longer within their maxWait; else behind them', () => {
    // Behind a head waiter, two waiters due at 200 and 300 ms whose maxWait ends at 350 ms: moving
    // them back 100 ms would push the second past it, so an earlier arrival goes ahead of neither.
    const head = reserve(0, EMPTY_BOOK, 0, policy, [ask(1, 10_000, 600)], 100);
    const tight = reserve(head.tokens, head.book, 0, policy, [ask(1, 350), ask(1, 350)], 100);
    const blocked = reserve(tight.tokens, tight.book, 0, policy, [ask(1, 10_000, 500)], 100);
    expect(blocked.result.outcomes[0]).toMatchObject({ due: expect.closeTo(400, 6) });
    // With room (maxWait 10 s) it goes ahead of both.
    const roomy = reserve(head.tokens, head.book, 0, policy, [ask(), ask()], 100);
    const ahead = reserve(roomy.tokens, roomy.book, 0, policy, [ask(1, 10_000, 500)], 100);
    expect(ahead.result.outcomes[0]).toMatchObject({ due: expect.closeTo(200, 6) });
  });

  test('a full book makes asks join its last entry (plain FIFO)', () => {
    const entries = Array.from({ length: MAX_ENTRIES }, (_, i) => ({ id: i + 1, a: 1000 + i * 20, count: 1, owed: 1 }));
    const full: Book = { seq: MAX_ENTRIES, entries };
    const outcome = reserve(-MAX_ENTRIES, full, 0, policy, [ask(1, 1e9, 5000)], 1e6);
    expect(outcome.book.entries).toHaveLength(MAX_ENTRIES);
    expect(outcome.book.entries.at(-1)).toMatchObject({ count: 2, owed: 2 });
    expect(outcome.result.outcomes[0]).toMatchObject({ due: expect.closeTo((MAX_ENTRIES + 1) * 100, 3) });
  });
});

describe('the order grace: a waiter is served no earlier than graceMs after its arrival', () => {
  const graced = (cost = 1, waitedMs = 0, graceMs = 100) => ({ cost, maxWaitMs: 10_000, waitedMs, priority: 0, graceMs });

  test('an ask paid at once but still in its grace gets an entry and a turn; past its grace, none', () => {
    const { book, result } = reserve(3, EMPTY_BOOK, 1_000, policy, [graced(1, 20), graced(1, 150)], 100);
    expect(result.outcomes[0]).toMatchObject({ granted: true, waitMs: expect.closeTo(80, 6), graceMs: 100, turn: expect.anything() });
    expect(result.outcomes[1]).toEqual({ granted: true, waitMs: 0, due: 1_000 });
    expect(book.entries).toHaveLength(1);
    expect(book.entries[0]).toMatchObject({ a: 980, s: 1_080 });
  });

  test('a paid entry stays in the book until its grace ends, then leaves; it never counts against maxSize', () => {
    const { tokens, book, result } = reserve(3, EMPTY_BOOK, 1_000, policy, [graced(1, 20)], 100);
    expect(pendingEntries(tokens, book.entries, 1_079, rate)).toHaveLength(1);
    expect(pendingEntries(tokens, book.entries, 1_081, rate)).toEqual([]);
    expect(result.waiting).toBe(0);
    expect(waitingCount(tokens, book.entries, 1_050, rate)).toBe(0);
    // maxSize 1: a second paid ask is still granted (nobody waits for tokens); it is served when the
    // grace of the entry ahead of it ends (1,080), not before.
    const more = reserve(tokens, book, 1_010, policy, [ask()], 1);
    expect(more.result.outcomes[0]).toMatchObject({ granted: true, waitMs: expect.closeTo(70, 6) });
  });

  test('the book is served in its order: a waiter behind an entry in its grace is due no earlier than that grace ends', () => {
    // a (grace until 1,080) is paid at once; b, with no grace, is paid at once too but stands behind a.
    const a = reserve(3, EMPTY_BOOK, 1_000, policy, [graced(1, 20)], 100);
    const b = reserve(a.tokens, a.book, 1_010, policy, [ask()], 100);
    expect(b.result.outcomes[0]).toMatchObject({ granted: true, waitMs: expect.closeTo(70, 6), due: expect.closeTo(1_080, 6), turn: expect.anything() });
    expect(dueOf(b.tokens, b.book.entries, 1_010, rate, turnOf(b.result.outcomes[0]), 1)).toBeCloseTo(1_080, 6);
    // Until then b stays in the book (and may be cancelled, its token given back); at 1,080 both leave.
    expect(pendingEntries(b.tokens, b.book.entries, 1_070, rate)).toHaveLength(2);
    expect(pendingEntries(b.tokens, b.book.entries, 1_081, rate)).toEqual([]);
    const left = cancel(b.tokens, b.book, 1_050, policy, 1, turnOf(b.result.outcomes[0]));
    expect(left.tokens).toBeCloseTo(b.tokens + 1, 9);
  });

  test('the grace runs from the real arrival: a priority ask (virtual arrival moved) gets the same grace end; none without a grace', () => {
    const high = reserve(3, EMPTY_BOOK, 1_000, policy, [{ ...graced(1, 20), priority: 2 }], 100);
    expect(high.book.entries[0]).toMatchObject({ a: 980 - 2_000, s: 1_080 });
    // A negative priority (virtual arrival in the future) paid at once, with no grace: served outside the book.
    const low = reserve(3, EMPTY_BOOK, 1_000, policy, [ask(1, 10_000, 0, -1)], 100);
    expect(low.result.outcomes[0]).toEqual({ granted: true, waitMs: 0, due: 1_000 });
    expect(low.book.entries).toEqual([]);
  });

  test('an earlier arrival booked later goes ahead of an entry in its grace, though the entry is paid; not of one whose grace ended', () => {
    // b arrived at 1,000 and was paid at once (grace until 1,100); a arrived at 980 and is booked at 1,030.
    const b = reserve(1, EMPTY_BOOK, 1_000, policy, [graced()], 100);
    const late = reserve(b.tokens + 0.3, b.book, 1_030, policy, [graced(1, 50)], 100);
    expect(late.book.entries.map((e) => e.a)).toEqual([980, 1_000]);
    // The same without a grace on b: b was served at once, outside the book; a queues for the refill.
    const plain = reserve(1, EMPTY_BOOK, 1_000, policy, [ask()], 100);
    expect(plain.book.entries).toEqual([]);
    // A grace that ends within the horizon of the late booking protects the entry: a goes behind it.
    const short = reserve(1, EMPTY_BOOK, 1_000, policy, [graced(1, 0, JUMP_HORIZON_MS + 20)], 100);
    expect(short.book.entries[0]).toMatchObject({ s: 1_000 + JUMP_HORIZON_MS + 20 });
    const behind = reserve(short.tokens + 0.3, short.book, 1_030, policy, [graced(1, 50)], 100);
    expect(behind.book.entries.map((e) => e.a)).toEqual([1_000, 980]);
  });

  test('a waiter cancelled in its grace gives its tokens back even when paid', () => {
    const { tokens, book, result } = reserve(3, EMPTY_BOOK, 1_000, policy, [graced()], 100);
    const after = cancel(tokens, book, 1_050, policy, 1, turnOf(result.outcomes[0]));
    expect(after.tokens).toBeCloseTo(tokens + 1, 9);
    expect(after.book.entries).toEqual([]);
  });
});

describe('the forming grace: the order grace of the asks that arrive while a queue forms', () => {
  const forming = (cost = 1, waitedMs = 0, formingGraceMs = 100) => ({ cost, maxWaitMs: 10_000, waitedMs, priority: 0, formingGraceMs });

  test('a batch that finds nobody in the book and cannot be paid at once forms the queue: every ask of it gets the grace', () => {
    // 1 token, 2 asks: the first is paid at once, but it is part of the forming batch.
    const { book, result } = reserve(1, EMPTY_BOOK, 1_000, policy, [forming(1, 10), forming()], 100);
    expect(book.formedAt).toBe(1_000);
    expect(result.outcomes[0]).toMatchObject({ granted: true, waitMs: expect.closeTo(90, 6), graceMs: 100 });
    expect(result.outcomes[1]).toMatchObject({ granted: true, waitMs: expect.closeTo(100, 6), graceMs: 100 });
    expect(book.entries.map((e) => e.s)).toEqual([1_090, 1_100]);
  });

  test('a batch paid at once with nobody in the book forms nothing: no grace, no entry', () => {
    const { book, result } = reserve(3, EMPTY_BOOK, 1_000, policy, [forming(), forming()], 100);
    expect(result.outcomes).toEqual([
      { granted: true, waitMs: 0, due: 1_000 },
      { granted: true, waitMs: 0, due: 1_000 },
    ]);
    expect(book).toEqual({ seq: book.seq, entries: [] });
  });

  test('asks that arrive within the grace of the formation get it; later ones wait for their tokens only (and for the graces ahead of them)', () => {
    const formed = reserve(0, EMPTY_BOOK, 1_000, policy, [forming()], 100);
    expect(formed.book.formedAt).toBe(1_000);
    // Arrived at 1,090 (within 100 ms of the formation): grace until 1,190; its tokens come at 1,200.
    const within = reserve(formed.tokens + 0.9, formed.book, 1_090, policy, [forming()], 100);
    expect(within.result.outcomes[0]).toMatchObject({ graceMs: 100, due: expect.closeTo(1_200, 6) });
    expect(within.book.formedAt).toBe(1_000);
    // Arrived at 1,110: no grace of its own; due with its tokens (1,300), after every grace ahead.
    const later = reserve(within.tokens + 0.2, within.book, 1_110, policy, [forming()], 100);
    expect(later.result.outcomes[0]).not.toHaveProperty('graceMs');
    expect(later.result.outcomes[0]).toMatchObject({ due: expect.closeTo(1_300, 6) });
    expect(later.book.entries.at(-1)).not.toHaveProperty('s');
  });

  test('the formation is forgotten once the book is empty: the next queue forms anew', () => {
    const formed = reserve(0, EMPTY_BOOK, 1_000, policy, [forming()], 100);
    // At 2,000 the debt is paid and the grace is over: nobody is in the book.
    const paid = reserve(formed.tokens + 10, formed.book, 2_000, policy, [forming()], 100);
    expect(paid.result.outcomes[0]).toEqual({ granted: true, waitMs: 0, due: 2_000 });
    expect(paid.book.formedAt).toBeUndefined();
    const again = reserve(0, paid.book, 3_000, policy, [forming()], 100);
    expect(again.book.formedAt).toBe(3_000);
    expect(again.result.outcomes[0]).toMatchObject({ graceMs: 100 });
  });

  test('an earlier arrival booked late goes ahead of the waiters booked while the queue formed', () => {
    // b arrived at 1,012 and formed the queue (its tokens come at 1,022.8, its grace ends at 1,112).
    const b = reserve(-0.08, EMPTY_BOOK, 1_012, fast, [forming()], 100);
    expect(b.book.formedAt).toBe(1_012);
    // a arrived at 1,000 and is booked at 1,040: it goes ahead of b, and is served at 1,100; b at 1,112.
    const a = reserve(b.tokens + 0.28, b.book, 1_040, fast, [forming(1, 40)], 100);
    expect(a.book.entries.map((e) => e.a)).toEqual([1_000, 1_012]);
    expect(a.result.outcomes[0]).toMatchObject({ due: expect.closeTo(1_100, 6), graceMs: 100 });
    expect(dueOf(a.tokens, a.book.entries, 1_040, fast.ratePerMs, turnOf(b.result.outcomes[0]), 1)).toBeCloseTo(1_112, 6);
    // Without the forming grace, b would have been served at 1,022.8, before a was booked.
    const plain = reserve(-0.08, EMPTY_BOOK, 1_012, fast, [ask()], 100);
    expect(plain.result.outcomes[0]).toMatchObject({ due: expect.closeTo(1_022.8, 6) });
  });

  test('a set order grace (graceMs) wins over the forming grace', () => {
    const { result } = reserve(0, EMPTY_BOOK, 1_000, policy, [{ ...forming(), graceMs: 300 }], 100);
    expect(result.outcomes[0]).toMatchObject({ graceMs: 300, due: expect.closeTo(1_300, 6) });
  });

  test('cancel keeps the formation while anybody is left', () => {
    const formed = reserve(0, EMPTY_BOOK, 1_000, policy, [forming(), forming()], 100);
    const after = cancel(formed.tokens, formed.book, 1_010, policy, 1, turnOf(formed.result.outcomes[1]));
    expect(after.book.entries).toHaveLength(1);
    expect(after.book.formedAt).toBe(1_000);
  });
});

describe('priorities: one FIFO by virtual arrival (arrival minus 1 s per priority level)', () => {
  test('a priority-2 ask goes ahead of priority-0 waiters that arrived less than 2 s before it', () => {
    const head = reserve(0, EMPTY_BOOK, 0, policy, [ask(1, 10_000, 50)], 100);
    const lows = reserve(head.tokens, head.book, 0, policy, [ask(), ask(1, 10_000, 0), ask(1, 10_000, 0)], 100);
    const withHigh = reserve(lows.tokens + 0.1, lows.book, 10, policy, [ask(1, 10_000, 0, 2)], 100);
    // It goes ahead of the head too (its turn, at 100 ms, is beyond the horizon).
    expect(withHigh.result.outcomes[0]).toMatchObject({ granted: true, due: expect.closeTo(100, 6) });
    expect(dues(withHigh.tokens, withHigh.book, 10, [turnOf(head.result.outcomes[0])])).toEqual([expect.closeTo(200, 6)]);
    expect(dues(withHigh.tokens, withHigh.book, 10, lows.result.outcomes.map(turnOf))).toEqual([expect.closeTo(300, 6), expect.closeTo(400, 6), expect.closeTo(500, 6)]);
  });

  test('ageing: a low waiter that has waited longer than the priority gap is not overtaken', () => {
    // At 3,000 ms: one low waiter that arrived at 0 (waited 3 s) and one that arrived at 2,900.
    const lows = reserve(-5, EMPTY_BOOK, 3000, policy, [ask(1, 10_000, 3000), ask(1, 10_000, 100)], 100);
    expect(lows.book.entries).toHaveLength(2);
    const [old, recent] = lows.result.outcomes.map(turnOf) as [Turn, Turn];
    const withHigh = reserve(lows.tokens, lows.book, 3000, policy, [ask(1, 10_000, 0, 2)], 100);
    const [oldDue, recentDue] = dues(withHigh.tokens, withHigh.book, 3000, [old, recent]);
    expect(oldDue).toBeCloseTo(3600, 6);
    expect(recentDue).toBeCloseTo(3800, 6);
    expect((withHigh.result.outcomes[0] as { due: number }).due).toBeCloseTo(3700, 6);
  });
});
