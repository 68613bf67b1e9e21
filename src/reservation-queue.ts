// The cluster-wide queue: waiters reserve their tokens in the shared bucket's book, in batches, then wait locally.

import type { Clock } from './clock.js';
import type { BucketPolicy } from './policy.js';
import { rankOf, reassignSlots, type SlotHolder } from './priority.js';
import { JUMP_HORIZON_MS, type BookUpdate, type ReservationOutcome, type Turn } from './reservation.js';
import type { Store } from './store.js';
import type { QueueLimits, QueueObserver, QueueOutcome, QueueStats, TakeQueue } from './take-queue.js';
import { whenAborted } from './abort-listeners.js';

/** The shortest time a take waits for others to join its batch (unless `queue.batchWindow` says otherwise). */
export const BATCH_WINDOW_MS = 5;
/**
 * The longest a batch is held back while the queue ahead of it is long (ms, from its first waiter's
 * arrival). Its waiters' turns are far off, and a batch reserved late still takes their places by
 * arrival (see `reserve`), so one write carries all the waiters that arrived meanwhile.
 */
export const MAX_DEFER_MS = 2000;
/**
 * A held-back batch is reserved this long (ms) before its first waiter's turn would start: more than
 * the horizon within which nobody goes ahead of a waiter, so that it still takes its place by
 * arrival, and room for the estimate's error.
 */
export const DEFER_MARGIN_MS = JUMP_HORIZON_MS + 50;
/**
 * A held-back batch is written up to this much (ms) earlier still, by a random amount drawn per
 * batch: processes holding waiters that arrived close together reach the same deadline, and writing
 * at the same moment, all but one would lose the compare-and-set and write again.
 */
export const DEFER_JITTER_MS = 40;
/** A held batch's write is moved later only by at least this much (ms), and not when it is due within it. */
const RESCHEDULE_MIN_MS = 5;
/**
 * The order grace while a key's queue forms (ms), when `queue.orderGrace` is not set: a waiter that
 * arrives within this long of the queue's formation (on the book, the same for every process) is
 * served no earlier than this long after it arrived. While a queue forms, an earlier arrival in
 * another process may still be on its way to the book (a direct try on a cold key, a lost
 * compare-and-set race: 40-70 ms on a busy host); the grace keeps the waiters booked meanwhile
 * jumpable, with the book's jump horizon (50 ms) to spare. Once the queue has formed, waits are
 * long enough by themselves. The store drops it while this process is the only member.
 */
export const FORMING_GRACE_MS = 100;

/**
 * Due times closer than this (ms) are one moment: waiters released together when an order grace
 * ahead of them ends are timed one after another from a clock that moves meanwhile (µs apart), and
 * keep their order.
 */
const DUE_TIE_MS = 0.5;

/** Orders reserved waiters by due time; near-equal ones keep their order (the sort is stable). */
function byDue(a: Waiter, b: Waiter): number {
  const d = (a.reserved?.dueAt ?? 0) - (b.reserved?.dueAt ?? 0);
  return Math.abs(d) < DUE_TIE_MS ? 0 : d;
}

/** The most waiters reserved in one write. */
const MAX_BATCH = 256;

interface Waiter {
  readonly cost: number;
  readonly arrivedAt: number;
  /** Its maxWait deadline, fixed when it arrived (a policy change later does not move it). */
  readonly deadline: number;
  readonly priority: number;
  readonly signal: AbortSignal | undefined;
  readonly settle: (outcome: QueueOutcome) => void;
  readonly fail: (error: unknown) => void;
  /** Stops listening to the signal (the wait ended otherwise). */
  stopListening: (() => void) | undefined;
  settled: boolean;
  /**
   * Set once its tokens are reserved: when they are there (local clock), how to give them back, and
   * its place in the book (its turn moves when asks that arrived earlier go ahead of it, or a waiter
   * ahead of it leaves).
   */
  reserved: Reservation | undefined;
}

/** A waiter's reserved tokens. */
interface Reservation {
  dueAt: number;
  readonly ticket: unknown;
  readonly turn: Turn | undefined;
  /** Served no earlier than this (local clock): the end of the order grace of the waiter it was booked for. */
  readonly servedFrom: number;
}

/** The takes of one key in this process. */
class Line {
  /** Arrived, not yet reserved: they go out in the next batch. */
  readonly pending: Waiter[] = [];
  /** Reserved, in due order (reservations of one line are made one batch at a time). */
  readonly reserved: Waiter[] = [];
  direct = 0;
  flushing = false;
  batchTimer: ReturnType<typeof setTimeout> | undefined;
  /** When `batchTimer` fires (local clock). */
  flushAt = 0;
  /** When the batch window of the batch being gathered ends (local clock): it is written no sooner. */
  windowEnd = 0;
  /** How much earlier than its deadline the held batch being gathered is written (see DEFER_JITTER_MS). */
  jitter = Math.random() * DEFER_JITTER_MS;
  dueTimer: ReturnType<typeof setTimeout> | undefined;
  tokens = 0;
  /** When `tokens` was learned (local clock; -Infinity: never): with it, how long a new waiter would wait. */
  tokensAt = Number.NEGATIVE_INFINITY;
  /** The state of the book learned last, if any (for estimates while this line follows the book). */
  book: BookUpdate | undefined;
  /** The newest version applied, per book (see BookUpdate.source). */
  readonly versions = new Map<string, number>();
  /** When a take of this key last had to queue (local clock). */
  queuedAt = Number.NEGATIVE_INFINITY;
  /** Set when a direct try failed: the next batch goes out at once, unless `queue.batchWindow` is set. */
  afterDirectTry = false;
  /** The first pending waiter's turn (local clock) by `book`, computed once per book and waiter. */
  firstTurn: { readonly book: BookUpdate; readonly waiter: Waiter; readonly at: number } | undefined;
  /** Set once a take with a priority other than 0 joined: only then are turns re-ranked. */
  prioritized = false;
  /** Stops following the book (set while reserved waiters are here and the store can watch). */
  unwatch: (() => void) | undefined;

  constructor(readonly key: string) {}

  get idle(): boolean {
    return this.pending.length === 0 && this.reserved.length === 0 && this.direct === 0 && !this.flushing && this.batchTimer === undefined;
  }
}

/**
 * The queue used with a store that can reserve (the ZooKeeper store): one FIFO per key across
 * every process.
 *
 * A take first tries the store directly when its key has no waiters here. When that fails, it joins
 * a batch: this process gathers the key's takes, then reserves tokens for all of them in one atomic
 * write. It gathers for the batch window ({@link BATCH_WINDOW_MS} unless `queue.batchWindow` says
 * otherwise), or, while the queue ahead is long, until {@link DEFER_MARGIN_MS} before the first
 * waiter's turn would start (at most {@link MAX_DEFER_MS} after it arrived): the batch still takes its waiters'
 * places in the book by arrival, ahead of later arrivals of other processes. The shared bucket goes
 * into debt by their cost, and each waiter waits locally for its turn (when the refill has paid for
 * everyone ahead of it, in any process). While it holds waiters on a key, this process follows the
 * key's book (one watch) and times its waiters again when asks that arrived earlier went ahead of
 * them, or waiters ahead of them left. Takes that could not be served within maxWait, or that find
 * maxSize waiters in the whole cluster, are refused at once. A waiter that leaves gives its tokens
 * back. Waiters of a process that dies hold no znode: their reservations are simply spent, and
 * nobody waits for them.
 */
export class ReservationQueue implements TakeQueue {
  private readonly lines = new Map<string, Line>();
  private closed = false;
  private takesSincePrune = 0;

  constructor(
    private readonly store: Store & Required<Pick<Store, 'reserve' | 'cancel'>>,
    private policy: BucketPolicy,
    private limits: QueueLimits,
    private readonly clock: Clock,
    private readonly observer: QueueObserver,
  ) {}

  /** {@inheritDoc TakeQueue.take} */
  async take(key: string, cost: number, signal?: AbortSignal, priority = 0): Promise<QueueOutcome> {
    const arrivedAt = this.clock.now();
    this.pruneIdleLines(arrivedAt);
    const line = this.lineOf(key);
    // Straight to the store only when this key has not queued lately: while a queue exists, a
    // direct try would only delay the batch that holds this take's turn.
    if (line.idle && arrivedAt - line.queuedAt > this.limits.maxWaitMs) {
      line.direct++;
      let result;
      try {
        result = await this.store.take(this.policy, key, cost);
      } finally {
        line.direct--;
        // Takes that joined meanwhile waited for this try to finish: their batch starts now.
        this.scheduleFlush(line);
      }
      line.tokens = result.tokens;
      if (result.taken || result.reason === 'unavailable') {
        this.scheduleFlush(line);
        this.dropIfIdle(line);
        if (result.taken) return { admitted: true, tokens: result.tokens, waitedMs: 0 };
        return { admitted: false, reason: 'unavailable', tokens: result.tokens, retryAfterMs: result.retryAfterMs ?? 0, waitedMs: 0 };
      }
      line.queuedAt = arrivedAt;
      return this.join(line, cost, arrivedAt, signal, true, priority);
    }
    line.queuedAt = arrivedAt;
    return this.join(line, cost, arrivedAt, signal, false, priority);
  }

  /** {@inheritDoc TakeQueue.idle} */
  idle(key: string): boolean {
    return !this.lines.has(key);
  }

  /** {@inheritDoc TakeQueue.size} */
  size(key: string): number {
    const line = this.lines.get(key);
    return line === undefined ? 0 : line.pending.length + line.reserved.length;
  }

  /** {@inheritDoc TakeQueue.queuedCost} */
  queuedCost(key: string): number {
    // Reserved waiters' tokens are booked: the bucket owes them already (its tokens are below zero by them).
    let cost = 0;
    for (const waiter of this.lines.get(key)?.pending ?? []) cost += waiter.cost;
    return cost;
  }

  /** Reserved waiters keep their turn: tokens added outside the queue go to later takes. */
  wake(): void {}

  /** {@inheritDoc TakeQueue.stats} */
  stats(): QueueStats {
    const now = this.clock.now();
    let waiting = 0;
    let oldest = now;
    for (const line of this.lines.values()) {
      waiting += line.pending.length + line.reserved.length;
      // Not only the heads: a take of a higher priority may have gone ahead of older waiters.
      for (const list of [line.reserved, line.pending]) for (const waiter of list) if (waiter.arrivedAt < oldest) oldest = waiter.arrivedAt;
    }
    return { waiting, oldestWaitMs: now - oldest };
  }

  /** {@inheritDoc TakeQueue.update} */
  update(policy: BucketPolicy, limits: QueueLimits): void {
    this.policy = policy;
    this.limits = limits;
  }

  /** {@inheritDoc TakeQueue.close} */
  close(): void {
    this.closed = true;
    const now = this.clock.now();
    for (const line of this.lines.values()) {
      clearTimeout(line.batchTimer);
      clearTimeout(line.dueTimer);
      this.stopFollowing(line);
      for (const waiter of [...line.pending.splice(0), ...line.reserved.splice(0)]) {
        if (waiter.reserved !== undefined) this.giveBack(line, waiter);
        this.finish(waiter, { admitted: false, reason: 'closed', tokens: line.tokens, retryAfterMs: 0, waitedMs: now - waiter.arrivedAt });
      }
    }
    this.lines.clear();
  }

  private join(line: Line, cost: number, arrivedAt: number, signal: AbortSignal | undefined, first: boolean, priority: number): Promise<QueueOutcome> {
    if (priority !== 0) line.prioritized = true;
    return new Promise<QueueOutcome>((resolve, reject) => {
      const waiter: Waiter = { cost, arrivedAt, deadline: arrivedAt + this.limits.maxWaitMs, priority, signal, settle: resolve, fail: reject, stopListening: undefined, settled: false, reserved: undefined };
      // Refused at once when the book this process knows of is full already, or puts its turn past
      // maxWait (the store's write decides for the others; a batch may be held back, see scheduleFlush).
      const estimated = this.joiningWaitMs(line, arrivedAt, (first ? 0 : this.pendingCost(line)) + cost, first);
      const full = line.book !== undefined && line.book.waiting() + (first ? 0 : line.pending.length) >= this.limits.maxSize;
      // A take booked with a priority may go ahead of much of the queue: the write decides it.
      const ranked = priority !== 0 && this.limits.priorities === true;
      if (!ranked && estimated > DEFER_MARGIN_MS && (full || estimated > this.limits.maxWaitMs)) {
        this.finish(waiter, { admitted: false, reason: full ? 'queue-full' : 'limited', tokens: line.tokens, retryAfterMs: estimated, waitedMs: 0 });
        this.afterFlush(line);
        return;
      }
      // A take whose direct try failed arrived before anything that joined meanwhile. The bucket is
      // empty and a queue is forming: the takes gathered during the try have waited a round trip
      // already, and other processes' takes race for the same turns, so their batch goes out at once.
      if (first) {
        line.pending.unshift(waiter);
        line.afterDirectTry = true;
      } else line.pending.push(waiter);
      if (signal !== undefined) {
        if (signal.aborted) return this.abort(line, waiter);
        waiter.stopListening = whenAborted(signal, () => this.abort(line, waiter));
      }
      this.scheduleFlush(line);
    });
  }

  /**
   * Starts the batch's timer, unless a batch or a direct try (whose take goes first) is under way:
   * the batch window, or longer while the queue ahead is long (see the class comment).
   */
  private scheduleFlush(line: Line): void {
    if (line.pending.length === 0) line.afterDirectTry = false;
    const first = line.pending.find((waiter) => !waiter.settled);
    if (first === undefined || line.flushing || line.direct > 0) return;
    const now = this.clock.now();
    // Never longer than maxWait: a take is answered within it, also one that cannot wait at all.
    const window = Math.min(this.limits.maxWaitMs, this.limits.batchWindowMs ?? (line.afterDirectTry ? 0 : BATCH_WINDOW_MS));
    // A take with a priority is not held back: it goes ahead of waiters whose turns come soon.
    const urgent = line.pending.some((waiter) => waiter.priority !== 0);
    // Held until the margin before the first waiter's turn starts, never longer than MAX_DEFER_MS
    // after it arrived, and a random bit earlier (see DEFER_JITTER_MS).
    const deadline = urgent ? now : Math.min(first.arrivedAt + MAX_DEFER_MS, now + this.firstTurnMs(line, first, now) - DEFER_MARGIN_MS) - line.jitter;
    // The batch window runs from the batch's first scheduling (it only shrinks, after a failed direct
    // try); only the deadline moves after that.
    line.windowEnd = line.batchTimer === undefined ? now + window : Math.min(line.windowEnd, now + window);
    const flushAt = Math.min(Math.max(line.windowEnd, deadline), first.arrivedAt + this.limits.maxWaitMs);
    if (line.batchTimer !== undefined) {
      // The book followed since may have moved the first waiter's turn either way: sooner when
      // waiters ahead left, later when asks that arrived before it were booked. A later write is
      // set only for a move of RESCHEDULE_MIN_MS or more, and not when the timer is about to fire.
      const later = flushAt > line.flushAt;
      if (later ? flushAt - line.flushAt < RESCHEDULE_MIN_MS || line.flushAt - now <= RESCHEDULE_MIN_MS : line.flushAt - flushAt < 1) return;
      clearTimeout(line.batchTimer);
    }
    line.flushAt = flushAt;
    line.batchTimer = setTimeout(() => void this.flush(line), flushAt - now);
  }

  /**
   * How long until the turn of the first pending waiter would start if its batch were reserved now:
   * from the book this process follows, by its arrival (asks of other processes that arrived before
   * it and were booked meanwhile are ahead of it); else by the last known debt.
   */
  private firstTurnMs(line: Line, first: Waiter, now: number): number {
    const book = line.book;
    if (book === undefined) return this.estimatedWaitMs(line, now);
    // The same book and first waiter give the same turn: computed once (a long book has many entries).
    const known = line.firstTurn;
    if (known !== undefined && known.book === book && known.waiter === first) return known.at - now;
    const waitMs = book.turnStartIn(now - first.arrivedAt, first.cost);
    line.firstTurn = { book, waiter: first, at: now + waitMs };
    return waitMs;
  }

  /**
   * How long a take joining the end of the queue now would wait, `cost` being its own and that of
   * the pending waiters ahead of it: by the tokens the line last learned of (those left pay the
   * first of that cost), refilled since, or the debt; `afterDirectTry`: the tokens the take's own
   * direct try just found. With nothing learned yet (the takes that join while a key's first direct
   * try is on its way), the bucket may be full: the store's write decides.
   */
  private joiningWaitMs(line: Line, now: number, cost: number, afterDirectTry: boolean): number {
    const { burst, ratePerMs } = this.policy;
    let tokens: number;
    if (afterDirectTry) tokens = Math.min(burst, line.tokens);
    else if (line.tokensAt === Number.NEGATIVE_INFINITY) tokens = burst;
    else tokens = Math.min(burst, line.tokens + Math.max(0, now - line.tokensAt) * ratePerMs);
    return Math.max(0, cost - tokens) / ratePerMs;
  }

  /** How long a take joining the end of the queue now would wait, by the last state of the book this process learned (0: none known). */
  private estimatedWaitMs(line: Line, now: number): number {
    if (line.tokens >= 0 || line.tokensAt === Number.NEGATIVE_INFINITY) return 0;
    return Math.max(0, -line.tokens / this.policy.ratePerMs - (now - line.tokensAt));
  }

  private pendingCost(line: Line): number {
    let cost = 0;
    for (const waiter of line.pending) cost += waiter.cost;
    return cost;
  }

  /**
   * The order grace asked for (ms), never beyond maxWait: `queue.orderGrace` for every waiter when
   * set, else {@link FORMING_GRACE_MS} for the waiters that arrive while the queue forms.
   */
  private graces(): { graceMs?: number; formingGraceMs?: number } {
    const { orderGraceMs, maxWaitMs } = this.limits;
    if (orderGraceMs !== undefined) return orderGraceMs > 0 ? { graceMs: Math.min(orderGraceMs, maxWaitMs) } : {};
    const forming = Math.min(FORMING_GRACE_MS, maxWaitMs);
    return forming > 0 ? { formingGraceMs: forming } : {};
  }

  /** Reserves tokens for the pending waiters of a line, in one store call. */
  private async flush(line: Line): Promise<void> {
    line.batchTimer = undefined;
    line.jitter = Math.random() * DEFER_JITTER_MS;
    line.afterDirectTry = false;
    const batch = line.pending.splice(0, MAX_BATCH).filter((waiter) => !waiter.settled);
    if (batch.length === 0) return this.dropIfIdle(line);
    line.flushing = true;
    const sent = this.clock.now();
    // Within a batch, higher ranks ask first (a stable sort keeps arrival order among equals).
    if (line.prioritized) batch.sort((a, b) => rankOf(b.priority, b.arrivedAt, sent) - rankOf(a.priority, a.arrivedAt, sent));
    let result;
    const graces = this.graces();
    try {
      const asks = batch.map((waiter) => ({
        cost: waiter.cost,
        maxWaitMs: Math.max(0, waiter.deadline - sent),
        // Without queue.priorities, priorities order this process's own waiters only.
        priority: this.limits.priorities === true ? waiter.priority : 0,
        waitedMs: sent - waiter.arrivedAt,
        ...graces,
      }));
      result = await this.store.reserve(this.policy, line.key, asks, this.limits.maxSize);
    } catch (error) {
      line.flushing = false;
      for (const waiter of batch) this.fail(waiter, error);
      this.afterFlush(line);
      return;
    }
    line.flushing = false;
    const now = this.clock.now();
    if (this.closed) {
      // Closed while this batch was being reserved: give its turns back and answer it.
      batch.forEach((waiter, i) => {
        const outcome = result.outcomes[i];
        if (outcome?.granted === true && (outcome.waitMs > 0 || outcome.turn !== undefined)) this.store.cancel(this.policy, line.key, outcome.ticket).catch(() => undefined);
        this.finish(waiter, { admitted: false, reason: 'closed', tokens: result.tokens, retryAfterMs: 0, waitedMs: now - waiter.arrivedAt });
      });
      return;
    }
    line.tokens = result.tokens;
    line.tokensAt = now;
    batch.forEach((waiter, i) => this.place(line, waiter, result.outcomes[i] as ReservationOutcome, result.waiting, now));
    // Asks of this batch may have gone ahead of waiters reserved before, or of each other: time them
    // all from the book written. Then in due order, also when the update was not applied (a bucket
    // created by this write reports version 0, older than any seen before a reset).
    if (result.update !== undefined) this.retime(line, result.update, false);
    line.reserved.sort(byDue);
    if (line.prioritized) this.rerank(line, now);
    this.armDueTimer(line);
    this.follow(line);
    this.afterFlush(line);
  }

  private place(line: Line, waiter: Waiter, outcome: ReservationOutcome, waiting: number, now: number): void {
    if (!outcome.granted) {
      return this.finish(waiter, { admitted: false, reason: outcome.reason, tokens: line.tokens, retryAfterMs: outcome.retryAfterMs, waitedMs: 0 });
    }
    if (waiter.settled) {
      // It left while its batch was being reserved: give its tokens back.
      if (outcome.waitMs > 0 || outcome.turn !== undefined) this.store.cancel(this.policy, line.key, outcome.ticket).catch(() => undefined);
      return;
    }
    const servedFrom = waiter.arrivedAt + (outcome.graceMs ?? 0);
    const dueAt = Math.max(now + outcome.waitMs, servedFrom);
    if (dueAt <= now) return this.finish(waiter, { admitted: true, tokens: line.tokens, waitedMs: now - waiter.arrivedAt });
    waiter.reserved = { dueAt, ticket: outcome.ticket, turn: outcome.turn, servedFrom };
    line.reserved.push(waiter);
    this.observer.enqueued(line.key, waiter.cost, line.reserved.length - 1, waiting, dueAt - now);
  }

  /**
   * Higher-ranked waiters of this process take over the earlier turns (reserved tokens) of
   * lower-ranked ones of the same cost, never pushing one past its maxWait deadline. Across
   * processes, asks of a higher priority go ahead in the book itself (see `reserve` and `retime`);
   * this settles the order among waiters this process reserved before, within one batch's reach.
   */
  private rerank(line: Line, now: number): void {
    const byCost = new Map<number, Array<SlotHolder<Reservation> & { waiter: Waiter }>>();
    for (const waiter of line.reserved) {
      if (waiter.reserved === undefined) continue;
      const group = byCost.get(waiter.cost) ?? [];
      group.push({ waiter, priority: waiter.priority, arrivedAt: waiter.arrivedAt, deadline: waiter.deadline, slot: waiter.reserved });
      byCost.set(waiter.cost, group);
    }
    let changed = false;
    for (const group of byCost.values()) {
      if (!reassignSlots(group, (slot) => slot.dueAt, now)) continue;
      changed = true;
      for (const holder of group) holder.waiter.reserved = holder.slot;
    }
    if (changed) line.reserved.sort((a, b) => (a.reserved?.dueAt ?? 0) - (b.reserved?.dueAt ?? 0));
  }

  /**
   * Times this line's reserved waiters again from a state of the book: those an ask that arrived
   * earlier went ahead of are due later, those behind a waiter that left are due sooner. One pushed
   * past its maxWait deadline (only through clock drift, see `reserve`) is refused (`'timeout'`,
   * with the wait it would have had) and its tokens given back. An update older than one applied
   * already is ignored.
   */
  private retime(line: Line, update: BookUpdate, arm = true): void {
    const applied = line.versions.get(update.source);
    if (applied !== undefined && update.version < applied) return;
    line.versions.set(update.source, update.version);
    line.book = update;
    const now = this.clock.now();
    line.tokens = update.tokens;
    line.tokensAt = now;
    for (const waiter of [...line.reserved]) {
      const reservation = waiter.reserved;
      if (reservation?.turn === undefined) continue;
      const waitMs = update.waitOf(reservation.turn, waiter.cost);
      if (waitMs === undefined) continue;
      reservation.dueAt = Math.max(now + waitMs, reservation.servedFrom);
      if (reservation.dueAt <= waiter.deadline + 1) continue;
      line.reserved.splice(line.reserved.indexOf(waiter), 1);
      this.giveBack(line, waiter);
      const waitedMs = now - waiter.arrivedAt;
      this.observer.timedOut(line.key, waiter.cost, waitedMs);
      this.finish(waiter, { admitted: false, reason: 'timeout', tokens: line.tokens, retryAfterMs: Math.max(0, reservation.dueAt - now), waitedMs });
    }
    line.reserved.sort(byDue);
    if (arm) this.armDueTimer(line);
  }

  /**
   * Follows the key's book while this line holds reserved waiters, and then while it holds a batch
   * back (when the store can watch): a held batch is written sooner when the queue ahead shrinks.
   */
  private follow(line: Line): void {
    if (line.unwatch !== undefined || line.reserved.length === 0 || this.store.watchReservations === undefined) return;
    line.unwatch = this.store.watchReservations(this.policy, line.key, (update) => {
      if (line.reserved.length === 0 && line.pending.length === 0) return;
      this.retime(line, update);
      this.scheduleFlush(line);
    });
  }

  /** Stops following the book; what this process knew of it goes stale, so it is forgotten. */
  private stopFollowing(line: Line): void {
    line.unwatch?.();
    line.unwatch = undefined;
    line.book = undefined;
    line.firstTurn = undefined;
    line.tokensAt = Number.NEGATIVE_INFINITY;
  }

  private afterFlush(line: Line): void {
    this.scheduleFlush(line);
    this.dropIfIdle(line);
  }

  /** One timer per line: for the earliest reserved waiter. */
  private armDueTimer(line: Line): void {
    clearTimeout(line.dueTimer);
    line.dueTimer = undefined;
    const head = line.reserved[0];
    if (head?.reserved === undefined) {
      if (line.pending.length === 0) this.stopFollowing(line);
      return this.dropIfIdle(line);
    }
    line.dueTimer = setTimeout(() => this.release(line), Math.max(0, Math.ceil(head.reserved.dueAt - this.clock.now())));
  }

  /** Serves every reserved waiter whose tokens are there. */
  private release(line: Line): void {
    line.dueTimer = undefined;
    const now = this.clock.now();
    while (line.reserved.length > 0 && (line.reserved[0]?.reserved?.dueAt ?? Infinity) <= now + 0.5) {
      const waiter = line.reserved.shift() as Waiter;
      const waitedMs = now - waiter.arrivedAt;
      this.observer.dequeued(line.key, waiter.cost, waitedMs);
      this.finish(waiter, { admitted: true, tokens: line.tokens, waitedMs });
    }
    this.armDueTimer(line);
  }

  private abort(line: Line, waiter: Waiter): void {
    if (waiter.settled) return;
    const now = this.clock.now();
    const pendingAt = line.pending.indexOf(waiter);
    if (pendingAt >= 0) line.pending.splice(pendingAt, 1);
    const reservedAt = line.reserved.indexOf(waiter);
    if (reservedAt >= 0) {
      line.reserved.splice(reservedAt, 1);
      this.giveBack(line, waiter);
      if (reservedAt === 0) this.armDueTimer(line);
    }
    this.observer.aborted(line.key, waiter.cost, now - waiter.arrivedAt);
    this.finish(waiter, { admitted: false, reason: 'aborted', tokens: line.tokens, retryAfterMs: 0, waitedMs: now - waiter.arrivedAt });
    this.dropIfIdle(line);
  }

  /**
   * Cancels a waiter's reservation. The waiters of this process behind it in the same entry of the
   * book are owed less ahead of them there: they are told at once (the store's write tells the others).
   */
  private giveBack(line: Line, waiter: Waiter): void {
    const turn = waiter.reserved?.turn;
    if (waiter.reserved === undefined) return;
    if (turn !== undefined) {
      for (const other of line.reserved) {
        const theirs = other.reserved?.turn;
        if (theirs !== undefined && theirs !== turn && theirs.entry === turn.entry && theirs.book === turn.book && theirs.before > turn.before) theirs.before -= waiter.cost;
      }
    }
    this.store.cancel(this.policy, line.key, waiter.reserved.ticket).catch(() => undefined);
  }

  private finish(waiter: Waiter, outcome: QueueOutcome): void {
    if (waiter.settled) return;
    waiter.settled = true;
    waiter.stopListening?.();
    waiter.settle(outcome);
  }

  private fail(waiter: Waiter, error: unknown): void {
    if (waiter.settled) return;
    waiter.settled = true;
    waiter.stopListening?.();
    waiter.fail(error);
  }

  private lineOf(key: string): Line {
    let line = this.lines.get(key);
    if (line === undefined) {
      line = new Line(key);
      this.lines.set(key, line);
    }
    return line;
  }

  /** Forgets an idle line, unless it queued lately (it then keeps batching new takes, see take()). */
  private dropIfIdle(line: Line): void {
    if (!line.idle || line.dueTimer !== undefined || this.lines.get(line.key) !== line) return;
    if (this.clock.now() - line.queuedAt <= this.limits.maxWaitMs) return;
    this.forget(line);
  }

  /** Drops an idle line, and its watch on the key's book if it still follows it. */
  private forget(line: Line): void {
    this.stopFollowing(line);
    this.lines.delete(line.key);
  }

  /** Now and then, forgets idle lines whose last queueing is older than maxWait: memory stays bounded. */
  private pruneIdleLines(now: number): void {
    if (++this.takesSincePrune < 1024) return;
    this.takesSincePrune = 0;
    for (const line of this.lines.values()) {
      if (line.idle && line.dueTimer === undefined && now - line.queuedAt > this.limits.maxWaitMs) this.forget(line);
    }
  }
}
