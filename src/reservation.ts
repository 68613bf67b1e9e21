// Pure reservation math for a cluster-wide FIFO: waiters reserve tokens in a book ordered by arrival, the bucket goes into debt.

import type { BucketPolicy } from './policy.js';
import { AGING_MS } from './priority.js';

/**
 * Waiters that arrived close together, reserved together: `count` waiters owed `owed` tokens. A
 * bucket keeps one list of entries, its book, in turn order: the refill pays the entries from the
 * front, so an entry's waiters are due when everything ahead of them is paid. An entry never moves
 * inside the book; an ask that arrived earlier may be put ahead of it (see {@link reserve}), and
 * then it is due later by that ask's cost.
 */
export interface Entry {
  /** Unique in its book (see {@link Book.seq}): how a waiter finds its entry again. */
  readonly id: number;
  /** The earliest virtual arrival of its waiters (see {@link virtualArrival}), on the book's clock. */
  readonly a: number;
  readonly count: number;
  readonly owed: number;
  /** The cost of its first waiter (absent: `owed / count`; 0 once its first waiter left): when that one is due, the entry starts being served. */
  readonly f?: number;
  /** The earliest maxWait deadline of its waiters: no ask goes ahead of it if that would push it past (absent: none). */
  readonly d?: number;
  /**
   * Served no earlier than this (on the book's clock; absent: as soon as paid): the end of its first
   * waiter's order grace. Until then it stays in the book even when paid, and an ask that arrived
   * earlier in another process may still go ahead of it.
   */
  readonly s?: number;
}

/** The waiters of a bucket, in turn order, and the last entry id handed out. */
export interface Book {
  readonly seq: number;
  readonly entries: readonly Entry[];
  /**
   * When the queue formed (on the book's clock): the reservation that first found nobody in the
   * book and could not be paid at once. Asks that arrive within their forming grace of it get that
   * grace (see {@link ReservationAsk.formingGraceMs}). Absent when nobody waits, or when the queue
   * formed without a forming grace.
   */
  readonly formedAt?: number;
  /**
   * Booking marks: for each process (by its tag) that booked or cancelled waiters in the book, the
   * number of its latest such write. A process whose write got no answer reads its mark to tell
   * whether the write landed (see `BookRepairs`). Kept as they are by every other change.
   */
  readonly w?: Readonly<Record<string, number>>;
}

/** A book with nobody in it. */
export const EMPTY_BOOK: Book = { seq: 0, entries: [] };

/**
 * The span of arrivals one entry gathers (ms): an ask that arrived this much after an entry's
 * earliest waiter, or less, joins that entry when it lands right behind it. So waiters of different
 * processes that arrived within this window of each other may be served in either order; an ask
 * goes ahead of every entry whose waiters all arrived after it (by the processes' estimates of
 * ZooKeeper's clock, whose error is well below this window).
 */
export const ORDER_WINDOW_MS = 10;

/**
 * Entries whose first waiter is due sooner than this are never gone ahead of: the processes holding them must
 * hear of the change (a ZooKeeper watch) before their turn comes (ms).
 */
export const JUMP_HORIZON_MS = 50;

/**
 * The most refill time one entry holds (ms): an ask joins an entry only while the entry's tokens
 * come within this span, so that the later waiters of a large batch stay in entries of their own,
 * which asks that arrived earlier can still go ahead of (see {@link JUMP_HORIZON_MS}).
 */
export const ENTRY_SPAN_MS = 50;

/** The most entries a book keeps; while it is full, new asks join its last entry (plain FIFO). */
export const MAX_ENTRIES = 2048;

/**
 * Where a granted waiter stands: its entry, and the tokens owed ahead of it inside that entry.
 * {@link waitOf} tells its due time from any later state of the book.
 */
export interface Turn {
  readonly entry: number;
  /** Which book it is in, when a store keeps more than one (the ZooKeeper store's shared book and local fallback). */
  readonly book?: string;
  /** Owed ahead of it inside its entry; lowered by its own process when a waiter ahead of it there leaves. */
  before: number;
}

/** A take that wants to wait: its cost, and the longest it may wait. */
export interface ReservationAsk {
  readonly cost: number;
  readonly maxWaitMs: number;
  /** Its priority (default 0): see {@link virtualArrival}. */
  readonly priority?: number;
  /** How long it has waited already, in this process (default 0). */
  readonly waitedMs?: number;
  /** Its order grace (ms, default 0): it is served no earlier than this long after its (real) arrival (see {@link Entry.s}). */
  readonly graceMs?: number;
  /**
   * Its order grace while a queue forms (ms, default 0): when it arrived within this long of the
   * queue's formation ({@link Book.formedAt}), or its batch forms the queue, it gets this grace
   * (as `graceMs`). Asks that arrive later get none.
   */
  readonly formingGraceMs?: number;
}

/** What became of one ask. */
export type ReservationOutcome =
  | {
      readonly granted: true;
      readonly waitMs: number;
      /** When the tokens are there, on the clock of the book that granted it. */
      readonly due: number;
      /** Its place in the book (absent when granted at once, outside any order grace). */
      readonly turn?: Turn;
      /** What the store needs to cancel this reservation; opaque to the queue. */
      readonly ticket?: unknown;
      /** Its order grace (ms): the queue serves it no earlier than this long after its arrival (absent: none). */
      readonly graceMs?: number;
    }
  | { readonly granted: false; readonly reason: 'queue-full' | 'limited' | 'unavailable'; readonly retryAfterMs: number };

/**
 * A state of a bucket's book as one process learned it (its own write, or a watch): enough to
 * time every waiter it holds.
 */
export interface BookUpdate {
  /** Which book it is a state of: versions of one source are comparable, of two sources not. */
  readonly source: string;
  /** Orders the states of one book: an update older than one already applied is stale. */
  readonly version: number;
  /** Tokens in the bucket when the update was made (negative while waiters are owed tokens). */
  readonly tokens: number;
  /**
   * Ms from now until the waiter holding `turn` (of `cost`) is due: 0 when due, or gone from the
   * book; `undefined` for a turn of another book (it keeps its time).
   */
  waitOf(turn: Turn, cost: number): number | undefined;
  /** Waiters in the book now (all processes), by this state of it. */
  waiting(): number;
  /**
   * Ms from now until the turn of an ask of `cost` that has waited `waitedMs` (priority 0) would
   * start, were it reserved now: when everything ahead of it is paid (the entries that arrived
   * before it, and those it may not go ahead of). The entries it would go ahead of are due from then.
   */
  turnStartIn(waitedMs: number, cost: number): number;
}

/** The result of reserving a batch of asks, in order. */
export interface ReservationResult {
  readonly outcomes: ReservationOutcome[];
  /** Tokens in the bucket after the batch (negative while waiters are owed tokens). */
  readonly tokens: number;
  /** Waiters still waiting in the whole queue after the batch (all processes). */
  readonly waiting: number;
  /** The book after the batch: the waiters reserved before it are timed again from it (asks of this batch may have gone ahead of them). */
  readonly update?: BookUpdate;
}

/**
 * The virtual arrival of an ask: its arrival, `AGING_MS` earlier per priority level. The queue is
 * one FIFO by virtual arrival, so a priority-2 ask goes ahead of priority-0 waiters that arrived less
 * than 2 s before it, and after those that have waited longer (nobody is starved for ever).
 */
export function virtualArrival(now: number, ask: ReservationAsk): number {
  return now - (ask.waitedMs ?? 0) - (ask.priority ?? 0) * AGING_MS;
}

/** An entry with when its first and last tokens are paid, at `now`. */
interface Timed {
  readonly entry: Entry;
  /** Tokens owed ahead of the entry. */
  readonly ahead: number;
  readonly start: number;
  /** When its first waiter is due. */
  readonly first: number;
  readonly end: number;
  /** Served no earlier than this: the latest end of an order grace of it and of the entries ahead of it (-Infinity: none). */
  readonly held: number;
}

/**
 * When each entry of `entries` is paid, for a bucket holding `tokens` at `now`: the debt
 * (`-tokens`) is what the book still owes, counted from its end, so the front is paid first.
 */
function timeline(tokens: number, entries: readonly Entry[], now: number, ratePerMs: number): Timed[] {
  let owed = 0;
  for (const entry of entries) owed += entry.owed;
  const available = tokens + owed;
  const timed: Timed[] = [];
  let ahead = 0;
  let held = Number.NEGATIVE_INFINITY;
  for (const entry of entries) {
    const start = now + Math.max(0, ahead - available) / ratePerMs;
    const end = now + Math.max(0, ahead + entry.owed - available) / ratePerMs;
    const first = now + Math.max(0, ahead + (entry.f ?? entry.owed / entry.count) - available) / ratePerMs;
    if (entry.s !== undefined && entry.s > held) held = entry.s;
    timed.push({ entry, ahead, start, first, end, held });
    ahead += entry.owed;
  }
  return timed;
}

/** The latest end of an order grace among the first `at` entries of a timeline (-Infinity: none). */
function heldAhead(timed: readonly Timed[], at: number): number {
  return at === 0 ? Number.NEGATIVE_INFINITY : (timed[at - 1] as Timed).held;
}

/** Tokens owed to the entries ahead of place `at` of a timeline (`timed.length`: all of them). */
function owedAhead(timed: readonly Timed[], at: number): number {
  const t = timed[at];
  if (t !== undefined) return t.ahead;
  const last = timed[timed.length - 1];
  return last === undefined ? 0 : last.ahead + last.entry.owed;
}

/**
 * When an entry's waiters may first be served: its first waiter's turn, or the end of an order
 * grace of it or of an entry ahead of it, if later (the book is served in its order).
 */
function firstServed(t: Timed): number {
  return Math.max(t.first, t.held);
}

/** Whether an entry is done at `now`: paid, and past its order grace and those of the entries ahead of it. */
function done(t: Timed, now: number): boolean {
  return t.end <= now + 1e-6 && t.held <= now + 1e-6;
}

/** The entries of a book still owed anything, or still in their order grace, at `now`. */
export function pendingEntries(tokens: number, entries: readonly Entry[], now: number, ratePerMs: number): Entry[] {
  return timeline(tokens, entries, now, ratePerMs)
    .filter((t) => !done(t, now))
    .map((t) => t.entry);
}

/** `book` without the entries done at `now` (see {@link pendingEntries}), keeping when its queue formed while anybody is left. */
export function prunedBook(book: Book, tokens: number, now: number, ratePerMs: number): Book {
  return withFormation(book.seq, pendingEntries(tokens, book.entries, now, ratePerMs), book.formedAt, book.w);
}

/** The number of waiters still waiting at `now` (in a partly paid entry, its unpaid share). */
export function waitingCount(tokens: number, entries: readonly Entry[], now: number, ratePerMs: number): number {
  let count = 0;
  // Paid entries held in their order grace do not count: they wait for time, not for tokens.
  for (const t of timeline(tokens, entries, now, ratePerMs)) {
    if (t.end <= now + 1e-6) continue;
    count += t.start >= now ? t.entry.count : Math.ceil((t.entry.count * (t.end - now)) / (t.end - t.start));
  }
  return count;
}

/**
 * When the waiter holding `turn` (of `cost`) is due, for a bucket holding `tokens` at `now` with
 * `entries`: when the refill has paid everything ahead of its entry, what is ahead of it inside,
 * and its own cost; and no earlier than the end of an order grace of its entry or of one ahead of it.
 * A waiter whose entry is gone from the book was paid (entries leave when paid and past their order
 * grace): it is due `now`.
 */
export function dueOf(tokens: number, entries: readonly Entry[], now: number, ratePerMs: number, turn: Turn, cost: number): number {
  let owed = 0;
  let ahead: number | undefined;
  let own = 0;
  let held = Number.NEGATIVE_INFINITY;
  for (const entry of entries) {
    if (ahead === undefined && entry.s !== undefined && entry.s > held) held = entry.s;
    if (entry.id === turn.entry) {
      ahead = owed;
      own = entry.owed;
    }
    owed += entry.owed;
  }
  if (ahead === undefined) return now;
  // Never after its entry's end: another process's waiter ahead of it in the entry may have left.
  const paid = now + Math.max(0, ahead + Math.min(turn.before + cost, own) - (tokens + owed)) / ratePerMs;
  // Nor before an order grace of its entry or of one ahead of it ends: the book is served in its order.
  return Math.max(paid, held);
}

/**
 * Reserves tokens for `asks`, in order, from a bucket holding `tokens` at `now` (refilled already)
 * whose waiters are `book`.
 *
 * Each granted ask takes its cost at once, so the bucket may go below zero: the debt is the cost of
 * everyone in the book, and an ask is due when the refill has paid everything ahead of it. An ask
 * goes into the book by its virtual arrival ({@link virtualArrival}): ahead of the entries at the
 * book's end whose waiters all arrived after it, provided none
 * of their waiters is due within {@link JUMP_HORIZON_MS} (their processes must hear of it in time) and
 * moving them back by its `cost / rate` keeps them within their maxWait deadlines. So a batch a
 * process reserves late still takes its waiters' places by arrival, and a priority ask goes ahead
 * of lower ones. The processes holding the entries behind learn their new turns from the book
 * ({@link dueOf}). The store serialises reservations (one compare-and-set per batch). An ask that
 * would wait longer than its `maxWaitMs` is refused at once with the wait it would have had; one
 * that finds `maxSize` waiters already waiting is refused as `'queue-full'`. An ask that fits now
 * is granted with no wait, and outside the book unless it is still within its order grace (`graceMs`
 * after its real arrival). Entries already paid and past their grace leave the book.
 */
export function reserve(
  tokens: number,
  book: Book,
  now: number,
  policy: BucketPolicy,
  asks: readonly ReservationAsk[],
  maxSize: number,
): { tokens: number; book: Book; result: ReservationResult } {
  const rate = policy.ratePerMs;
  let balance = tokens;
  let entries: MutableEntry[] = pendingEntries(tokens, book.entries, now, rate).map((entry) => ({ ...entry }));
  let waiting = waitingCount(balance, entries, now, rate);
  // A new book's ids start at a random point: a turn of a book deleted meanwhile (a reset) never
  // matches an entry of the new one.
  let seq = book.seq === 0 ? Math.floor(Math.random() * 2 ** 40) : book.seq;
  const formedAt = formationOf(book, entries, balance, now, asks);
  const outcomes: ReservationOutcome[] = [];
  for (const ask of asks) {
    const virtual = virtualArrival(now, ask);
    const timed = timeline(balance, entries, now, rate);
    const at = entries.length >= MAX_ENTRIES ? entries.length : placeOf(timed, virtual, ask.cost / rate, now);
    const owed = owedAhead(timed, timed.length);
    const ahead = owedAhead(timed, at);
    // Tokens there would be with nobody owed; the ask needs everyone ahead paid, then its cost.
    const available = balance + owed;
    const waitMs = ahead + ask.cost <= available + 1e-9 ? 0 : (ahead + ask.cost - available) / rate;
    // Served no earlier than the end of an order grace of an entry ahead of it.
    const held = heldAhead(timed, at);
    if (waitMs > 0 && waiting >= maxSize) {
      outcomes.push({ granted: false, reason: 'queue-full', retryAfterMs: waitMs });
      continue;
    }
    if (waitMs > ask.maxWaitMs) {
      outcomes.push({ granted: false, reason: 'limited', retryAfterMs: waitMs });
      continue;
    }
    balance -= ask.cost;
    // The end of its order grace, from its real arrival (not its virtual one: priorities move that).
    const arrival = now - (ask.waitedMs ?? 0);
    const graceMs = graceOf(ask, arrival, formedAt);
    const graceEnd = graceMs === undefined ? undefined : arrival + graceMs;
    // Paid at once and past every order grace (or with none): served now, outside the book.
    if (waitMs === 0 && held <= now + 1e-9 && (graceEnd === undefined || graceEnd <= now + 1e-9)) {
      outcomes.push({ granted: true, waitMs: 0, due: now });
      continue;
    }
    if (waitMs > 0) waiting++;
    const deadline = now + ask.maxWaitMs;
    const previous = entries[at - 1];
    let turn: Turn;
    // It joins the entry just ahead when it arrived within that entry's window and the entry's
    // tokens still come within ENTRY_SPAN_MS (or when the book is full).
    const joins =
      previous !== undefined &&
      (entries.length >= MAX_ENTRIES ||
        (virtual >= previous.a - 1e-9 && virtual <= previous.a + ORDER_WINDOW_MS && previous.owed + ask.cost <= ENTRY_SPAN_MS * rate + 1e-9));
    if (previous !== undefined && joins) {
      turn = { entry: previous.id, before: previous.owed };
      previous.count += 1;
      previous.owed += ask.cost;
      previous.a = Math.min(previous.a, virtual);
      previous.d = previous.d === undefined ? deadline : Math.min(previous.d, deadline);
      if (graceEnd !== undefined) previous.s = previous.s === undefined ? graceEnd : Math.min(previous.s, graceEnd);
    } else {
      const entry: MutableEntry = { id: ++seq, a: virtual, count: 1, owed: ask.cost, f: ask.cost, d: deadline, ...(graceEnd !== undefined && { s: graceEnd }) };
      entries = [...entries.slice(0, at), entry, ...entries.slice(at)];
      turn = { entry: entry.id, before: 0 };
    }
    // Served when paid, and no earlier than its own grace and every grace ahead of it ends.
    const servedIn = Math.max(waitMs, held - now, graceEnd === undefined ? 0 : graceEnd - now);
    outcomes.push({ granted: true, waitMs: servedIn, due: now + servedIn, turn, ...(graceMs !== undefined && { graceMs }) });
  }
  const update = bookUpdate('book', seq, balance, now, entries, policy, () => now);
  return { tokens: balance, book: withFormation(seq, entries, formedAt, book.w), result: { outcomes, tokens: balance, waiting, update } };
}

/**
 * When the queue of a book formed, as of a reservation of `asks`: the book's own time while
 * anybody is in it (`pending`); now, when nobody is and the batch cannot be paid at once by a
 * bucket holding `balance` and one of its asks has a forming grace; otherwise none.
 */
function formationOf(book: Book, pending: readonly Entry[], balance: number, now: number, asks: readonly ReservationAsk[]): number | undefined {
  if (pending.length > 0) return book.formedAt;
  if (!asks.some((ask) => (ask.formingGraceMs ?? 0) > 0)) return undefined;
  let cost = 0;
  for (const ask of asks) cost += ask.cost;
  return cost > balance + 1e-9 ? now : undefined;
}

/** The order grace of an ask that arrived at `arrival` (ms): its own, else its forming grace if it arrived within that of the queue's formation. */
function graceOf(ask: ReservationAsk, arrival: number, formedAt: number | undefined): number | undefined {
  if (ask.graceMs !== undefined && ask.graceMs > 0) return ask.graceMs;
  const forming = ask.formingGraceMs ?? 0;
  return forming > 0 && formedAt !== undefined && arrival < formedAt + forming ? forming : undefined;
}

/** A book of `entries` with its booking marks, keeping when its queue formed while anybody is in it. */
function withFormation(seq: number, entries: readonly Entry[], formedAt: number | undefined, w: Book['w']): Book {
  return { seq, entries, ...(entries.length > 0 && formedAt !== undefined && { formedAt }), ...(w !== undefined && { w }) };
}

/**
 * A state of a book, for the queue to time its waiters: a bucket holding `tokens` at `at` with
 * `entries`, read on the book's clock (`now`, called at each use). It answers for the turns of book
 * `source` and for untagged turns; a turn tagged with another book keeps its time (`undefined`).
 */
export function bookUpdate(source: string, version: number, tokens: number, at: number, entries: readonly Entry[], policy: BucketPolicy, now: () => number): BookUpdate {
  const tokensAt = (time: number): number => Math.min(policy.burst, tokens + Math.max(0, time - at) * policy.ratePerMs);
  return {
    source,
    version,
    tokens: tokensAt(now()),
    waitOf: (turn, cost) => ((turn.book ?? source) !== source ? undefined : Math.max(0, dueOf(tokens, entries, at, policy.ratePerMs, turn, cost) - now())),
    waiting: () => {
      const time = now();
      return waitingCount(tokensAt(time), entries, time, policy.ratePerMs);
    },
    turnStartIn: (waitedMs, cost) => {
      const time = now();
      const rate = policy.ratePerMs;
      const timed = timeline(tokens, entries, at, rate);
      const place = entries.length >= MAX_ENTRIES ? timed.length : placeOf(timed, time - waitedMs, cost / rate, time);
      const available = tokens + owedAhead(timed, timed.length);
      return Math.max(0, at + Math.max(0, owedAhead(timed, place) - available) / rate - time);
    },
  };
}

/**
 * Where in the book an ask of virtual arrival `virtual` goes: ahead of the entries at the end whose
 * waiters all arrived after it and whose first waiter is due beyond the horizon,
 * but behind any entry that moving back by `by` ms would push past its deadline.
 */
function placeOf(timed: readonly Timed[], virtual: number, by: number, now: number): number {
  let at = timed.length;
  while (at > 0) {
    const t = timed[at - 1] as Timed;
    if (t.entry.a > virtual && firstServed(t) > now + JUMP_HORIZON_MS) at--;
    else break;
  }
  for (let i = at; i < timed.length; i++) {
    const t = timed[i] as Timed;
    if (t.entry.d !== undefined && t.end + by > t.entry.d + 1e-6) at = i + 1;
  }
  return at;
}

/**
 * Removes a granted reservation whose waiter left before its turn: its entry owes its cost no
 * more, and its tokens go back to the bucket. Everyone behind it is due sooner by its cost / rate,
 * and the book's order is kept, so nobody overtakes anybody. A waiter already due (or gone from the
 * book) changes nothing. When the entry's first waiter leaves, the entry counts as due from its start
 * for the jump horizon (see {@link JUMP_HORIZON_MS}): the cost of its new first waiter is not in the book.
 */
export function cancel(tokens: number, book: Book, now: number, policy: BucketPolicy, cost: number, turn: Turn): { tokens: number; book: Book } {
  const pruned = prunedBook(book, tokens, now, policy.ratePerMs);
  const entries: MutableEntry[] = pruned.entries.map((entry) => ({ ...entry }));
  const own = entries.find((entry) => entry.id === turn.entry);
  // A waiter still held by an order grace was not served yet, even when paid (dueOf is later than now): its tokens go back too.
  if (own === undefined || dueOf(tokens, entries, now, policy.ratePerMs, turn, cost) <= now) return { tokens, book: pruned };
  own.count -= 1;
  own.owed = Math.max(0, own.owed - cost);
  // Its first waiter left (nothing was owed ahead of it inside the entry): the cost of the one
  // first now is not known here, so the entry counts as starting to be served when its tokens
  // start being paid; with the cost of the one that left, a late ask could go ahead of a waiter
  // due within the jump horizon.
  if (turn.before === 0 && own.count > 0) own.f = 0;
  return { tokens: Math.min(policy.burst, tokens + cost), book: withFormation(book.seq, entries.filter((entry) => entry.count > 0), book.formedAt, book.w) };
}

type MutableEntry = { id: number; a: number; count: number; owed: number; f?: number; d?: number; s?: number };
