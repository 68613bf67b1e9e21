// Takes waiters out of shared books again (those that left, those of booking writes whose answer never came): batched per bucket, kept while ZooKeeper is away.

import type { BucketPolicy } from '../../policy.js';
import { cancel, type Book, type Turn } from '../../reservation.js';
import type { BucketChange, BucketUpdate, BucketView } from './bucket-cas.js';

/** A booked waiter to take out of a book: the turn its booking gave it, and its cost. */
export interface BookedTurn {
  readonly cost: number;
  readonly turn: Turn;
}

/**
 * A write of this process whose answer never came (a timeout, a lost connection): it may have
 * landed, or may still land. A booking's waiters were answered otherwise and must come out if it
 * did; a write of cancels must be made again if it did not.
 */
type UnsureWrite =
  | { readonly kind: 'booking'; readonly mark: number; readonly at: number; readonly turns: readonly BookedTurn[] }
  | { readonly kind: 'cancels'; readonly mark: number; readonly at: number; readonly cancels: readonly BookedTurn[] };

/** What this process has to take out of one bucket's book. */
interface Repair {
  policy: BucketPolicy;
  readonly key: string;
  /** Waiters to take out, in the order they left. */
  cancels: BookedTurn[];
  unsure: UnsureWrite[];
  /** Local clock reading of the latest change: the repair is forgotten a while after it. */
  touched: number;
  /** The flush under way, and the next one (scheduled, or waiting for it). */
  running?: Promise<void>;
  next?: Promise<void>;
  timer?: NodeJS.Timeout;
}

/** What the repairs need of their store. */
export interface BookRepairsHost {
  /** This process's key in the books' marks (see `Book.w`). */
  readonly tag: string;
  /** A new booking mark number (larger than every one before). */
  nextMark(): number;
  /** Whether ZooKeeper is usable now. */
  available(): boolean;
  /** One compare-and-set on the bucket of `key`, within the store's deadline; `change` picks the new state from the state now. */
  update(policy: BucketPolicy, key: string, change: (view: BucketView) => BucketChange | undefined): Promise<BucketUpdate>;
  /** Whether an error leaves a write's outcome unknown (it may have landed). */
  unknownOutcome(error: unknown): boolean;
  /** A flush failed (the store notes an outage). */
  failed(error: unknown): void;
  /** The local clock, in ms. */
  now(): number;
}

/** Repairs untouched for this long are dropped: their entries have been paid, or their waiters' deadlines passed, long ago (ms). */
const REPAIR_MEMORY_MS = 60_000;
/** A write still not in the book this long after it was given up did not land (ms; see {@link BookRepairs}). */
const UNSURE_SETTLE_MS = 2000;
/** While writes of unknown outcome are left, the book is read again this often (ms). */
const UNSURE_RECHECK_MS = 1000;
/** A flush that lost to contention tries again after this (ms). */
const RETRY_MS = 50;
/** A book keeps the marks of this many processes at most, the latest writers. */
const MAX_MARKS = 32;

/** `book` with this process's booking mark set to `mark`: moved to the end, the oldest marks beyond {@link MAX_MARKS} dropped. */
export function withMark(book: Book, tag: string, mark: number): Book {
  const marks = Object.entries(book.w ?? {}).filter(([key]) => key !== tag);
  marks.push([tag, mark]);
  return { ...book, w: Object.fromEntries(marks.slice(-MAX_MARKS)) };
}

/**
 * Takes waiters out of the shared books of one store, so that nobody waits behind a waiter that
 * is gone:
 * - A waiter that left (aborted, timed out, closed with its limiter) is cancelled. The cancels of
 *   one bucket made together go in one compare-and-set; while ZooKeeper cannot be reached they
 *   are kept, and sent when it is back.
 * - A write whose answer never came may have landed, or may still land. Every write of bookings
 *   and cancels sets this process's mark in the book to a number of its own (`Book.w`). A book
 *   showing that number got that write: a booking's waiters (answered by `onUnavailable` meanwhile)
 *   are taken out, a write of cancels is done. A higher number means that a later write of this
 *   process read the book first (and would have seen it): the write never landed, and its cancels
 *   are sent again. A lower one, read at least {@link UNSURE_SETTLE_MS} after it was given up (so
 *   after the connection it was sent on was left), means the same. The book is read again every
 *   second until it is known.
 * Every read of a book by this process's writes ({@link BookRepairs.observe}) settles what it shows.
 */
export class BookRepairs {
  private readonly repairs = new Map<string, Repair>();
  private closed = false;

  constructor(private readonly host: BookRepairsHost) {}

  /** Waiters and writes not yet settled, over all buckets. */
  get pending(): number {
    let count = 0;
    for (const repair of this.repairs.values()) count += repair.cancels.length + repair.unsure.length;
    return count;
  }

  /** Takes a waiter that left out of the book of `key`; resolves once a flush carried it (or could not). */
  cancel(policy: BucketPolicy, key: string, booked: BookedTurn): Promise<void> {
    const repair = this.repairOf(policy, key);
    repair.cancels.push(booked);
    return this.flushSoon(repair);
  }

  /** The waiters of a booking write known to have landed, answered otherwise meanwhile: taken out. */
  landed(policy: BucketPolicy, key: string, turns: readonly BookedTurn[]): void {
    if (turns.length === 0) return;
    const repair = this.repairOf(policy, key);
    // Last first: each turn's place inside its entry stays as it was booked.
    repair.cancels.push(...[...turns].reverse());
    void this.flushSoon(repair);
  }

  /** A booking write (carrying booking mark `mark`) whose answer never came: its waiters come out if it landed. */
  unsure(policy: BucketPolicy, key: string, mark: number, turns: readonly BookedTurn[]): void {
    if (turns.length === 0) return;
    const repair = this.repairOf(policy, key);
    repair.unsure.push({ kind: 'booking', mark, at: this.host.now(), turns });
    void this.flushSoon(repair);
  }

  /**
   * Settles what a book of `key` read by one of this process's writes shows of its writes of
   * unknown outcome (see {@link BookRepairs}). Called by every such write before it sets a new mark.
   */
  observe(policy: BucketPolicy, key: string, book: Book): void {
    const repair = this.repairs.get(idOf(policy, key));
    if (repair === undefined || repair.unsure.length === 0) return;
    const mark = book.w?.[this.host.tag] ?? Number.NEGATIVE_INFINITY;
    const now = this.host.now();
    const left: UnsureWrite[] = [];
    const again: BookedTurn[] = [];
    for (const write of repair.unsure) {
      const landed = mark === write.mark;
      if (!landed && mark < write.mark && now - write.at < UNSURE_SETTLE_MS) {
        left.push(write);
        continue;
      }
      if (write.kind === 'booking' && landed) repair.cancels.push(...[...write.turns].reverse());
      if (write.kind === 'cancels' && !landed) again.push(...write.cancels);
    }
    repair.unsure = left;
    // Cancels to make again left before the ones queued since.
    if (again.length > 0) repair.cancels.unshift(...again);
    repair.touched = now;
  }

  /** Sends every bucket's repairs now (ZooKeeper is back, or the store closes); resolves when all are done. */
  flushAll(): Promise<void> {
    return Promise.all([...this.repairs.values()].map((repair) => this.flushSoon(repair))).then(noop);
  }

  /** Stops: nothing more is sent after the writes under way, and what is left is dropped. */
  close(): void {
    this.closed = true;
    for (const repair of this.repairs.values()) clearTimeout(repair.timer);
    this.repairs.clear();
  }

  private repairOf(policy: BucketPolicy, key: string): Repair {
    const id = idOf(policy, key);
    let repair = this.repairs.get(id);
    if (repair === undefined) {
      repair = { policy, key, cancels: [], unsure: [], touched: this.host.now() };
      this.repairs.set(id, repair);
    }
    repair.policy = policy;
    repair.touched = this.host.now();
    return repair;
  }

  /** The next flush of `repair`: on the next turn of the event loop (so that cancels made together go together), after the one under way. */
  private flushSoon(repair: Repair): Promise<void> {
    if (repair.next !== undefined) return repair.next;
    const next = (repair.running ?? Promise.resolve())
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        repair.next = undefined;
        const running = this.send(repair).finally(() => {
          if (repair.running === running) repair.running = undefined;
        });
        repair.running = running;
        return running;
      });
    repair.next = next;
    return next;
  }

  /** Writes the cancels of one bucket in one compare-and-set, settling what its read shows; what cannot be written yet is kept. */
  private async send(repair: Repair): Promise<void> {
    clearTimeout(repair.timer);
    repair.timer = undefined;
    if (this.closed) return;
    if (this.host.now() - repair.touched >= REPAIR_MEMORY_MS) return this.forget(repair, true);
    if (repair.cancels.length === 0 && repair.unsure.length === 0) return this.forget(repair, false);
    // Sent when ZooKeeper is back (flushAll).
    if (!this.host.available()) return;
    const mark = this.host.nextMark();
    let sent: BookedTurn[] = [];
    let wrote = false;
    try {
      await this.host.update(repair.policy, repair.key, (view) => {
        this.observe(repair.policy, repair.key, view.book);
        sent = [...repair.cancels];
        let state: { tokens: number; book: Book } = { tokens: view.tokens, book: view.book };
        for (const booked of sent) state = cancel(state.tokens, state.book, view.serverNow, repair.policy, booked.cost, booked.turn);
        // Nothing changes when every waiter was due already (or its entry is gone).
        wrote = state.tokens !== view.tokens;
        return wrote ? { tokens: state.tokens, book: withMark(state.book, this.host.tag, mark) } : undefined;
      });
      this.take(repair, sent);
    } catch (error) {
      if (wrote && this.host.unknownOutcome(error)) {
        this.take(repair, sent);
        repair.unsure.push({ kind: 'cancels', mark, at: this.host.now(), cancels: sent });
      }
      this.host.failed(error);
      if (this.host.available()) this.later(repair, RETRY_MS);
      return;
    }
    if (repair.unsure.length > 0) this.later(repair, UNSURE_RECHECK_MS);
    else if (repair.cancels.length > 0) this.later(repair, 0);
    else this.forget(repair, false);
  }

  /** Removes the cancels a write carried (those queued meanwhile stay). */
  private take(repair: Repair, sent: readonly BookedTurn[]): void {
    const done = new Set<BookedTurn>(sent);
    repair.cancels = repair.cancels.filter((booked) => !done.has(booked));
  }

  private later(repair: Repair, ms: number): void {
    if (this.closed || repair.timer !== undefined) return;
    repair.timer = setTimeout(() => {
      repair.timer = undefined;
      void this.flushSoon(repair);
    }, ms);
    repair.timer.unref();
  }

  /** Drops a repair with nothing left to do (or, `stale`, one untouched for too long). */
  private forget(repair: Repair, stale: boolean): void {
    if (!stale && (repair.cancels.length > 0 || repair.unsure.length > 0 || repair.next !== undefined)) return;
    const id = idOf(repair.policy, repair.key);
    if (this.repairs.get(id) === repair) this.repairs.delete(id);
  }
}

function idOf(policy: BucketPolicy, key: string): string {
  return `${policy.name}\u0000${key}`;
}

function noop(): void {
  // nothing to do
}
