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
type UnsureWrite = (
  | { readonly kind: 'booking'; readonly mark: number; readonly turns: readonly BookedTurn[] }
  | { readonly kind: 'cancels'; readonly mark: number; readonly cancels: readonly BookedTurn[] }
) & {
  /** A read of this process found no mark of its own in the book since: a later, higher mark then proves nothing. */
  blind: boolean;
};

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
  /** Flushes failed in a row (the next waits longer), and rechecks of unsure writes made in a row. */
  failures: number;
  rechecks: number;
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
/** While writes of unknown outcome are left, the book is read again after this, doubling each time (ms). */
const UNSURE_RECHECK_MS = 500;
/** A flush that failed (a hot bucket, a bad answer) tries again after this, doubling each time up to {@link MAX_RETRY_MS} (ms). */
const RETRY_MS = 50;
const MAX_RETRY_MS = 5_000;
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
 *   and cancels sets this process's mark in the book to a number of its own (`Book.w`), and reads
 *   the book first ({@link BookRepairs.observe}). A book showing that write's number got it: a
 *   booking's waiters (answered by `onUnavailable` meanwhile) are taken out, a write of cancels is
 *   done. A higher number means that a later write of this process read the book before it and
 *   found the write not there; that later write landed, so the first never can: its cancels are
 *   sent again. Anything else tells nothing yet, and the book is read again (after 0.5, 1, 2 ... s)
 *   until a later write of this process settles it, for up to a minute. A read that finds no mark
 *   of this process at all (the marks of more than 32 writers are kept, and a writer of an older
 *   release keeps none) makes a later number prove nothing: such a write of cancels is then
 *   never sent again. Every doubt ends on the side of admitting less: a cancel is never made twice.
 */
export class BookRepairs {
  private readonly repairs = new Map<string, Repair>();
  private closed = false;

  constructor(private readonly host: BookRepairsHost) {}

  /** What is left to do for the bucket of `key`: waiters to cancel, and writes whose outcome is not known yet (for diagnosis and tests). */
  pendingOf(policy: BucketPolicy, key: string): { readonly cancels: number; readonly unsure: number } {
    const repair = this.repairs.get(idOf(policy, key));
    return { cancels: repair?.cancels.length ?? 0, unsure: repair?.unsure.length ?? 0 };
  }

  /** Takes a waiter that left out of the book of `key`; resolves once a flush carried it (or could not). */
  cancel(policy: BucketPolicy, key: string, booked: BookedTurn): Promise<void> {
    if (this.closed) return Promise.resolve();
    const repair = this.repairOf(policy, key);
    repair.cancels.push(booked);
    return this.flushSoon(repair);
  }

  /** The waiters of a booking write known to have landed, answered otherwise meanwhile: taken out. */
  landed(policy: BucketPolicy, key: string, turns: readonly BookedTurn[]): void {
    if (turns.length === 0 || this.closed) return;
    const repair = this.repairOf(policy, key);
    // Last first: each turn's place inside its entry stays as it was booked.
    repair.cancels.push(...[...turns].reverse());
    void this.flushSoon(repair);
  }

  /** A booking write (carrying booking mark `mark`) whose answer never came: its waiters come out if it landed. */
  unsure(policy: BucketPolicy, key: string, mark: number, turns: readonly BookedTurn[]): void {
    if (turns.length === 0 || this.closed) return;
    const repair = this.repairOf(policy, key);
    repair.unsure.push({ kind: 'booking', mark, turns, blind: false });
    void this.flushSoon(repair);
  }

  /**
   * Settles what a book of `key` read by one of this process's writes shows of its writes of
   * unknown outcome (see {@link BookRepairs}). Called by every such write before it sets a new mark.
   */
  observe(policy: BucketPolicy, key: string, book: Book): void {
    const repair = this.repairs.get(idOf(policy, key));
    if (repair === undefined || repair.unsure.length === 0) return;
    const mark = book.w?.[this.host.tag];
    const left: UnsureWrite[] = [];
    const again: BookedTurn[] = [];
    for (const write of repair.unsure) {
      if (mark === write.mark) {
        // It landed.
        if (write.kind === 'booking') repair.cancels.push(...[...write.turns].reverse());
        continue;
      }
      if (mark !== undefined && mark > write.mark && !write.blind) {
        // A later write read the book without it, and landed: it never will.
        if (write.kind === 'cancels') again.push(...write.cancels);
        continue;
      }
      if (mark === undefined) write.blind = true;
      left.push(write);
    }
    repair.unsure = left;
    // Cancels to make again left before the ones queued since.
    if (again.length > 0) repair.cancels.unshift(...again);
    repair.touched = this.host.now();
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
      repair = { policy, key, cancels: [], unsure: [], touched: this.host.now(), failures: 0, rechecks: 0 };
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
    let writing = false;
    // Once this flush has given up (its deadline passed), the compare-and-set loop under it, which
    // runs on, writes nothing more: its cancels are in an unsure write by then.
    let givenUp = false;
    try {
      await this.host.update(repair.policy, repair.key, (view) => {
        writing = false;
        if (givenUp) return undefined;
        this.observe(repair.policy, repair.key, view.book);
        sent = [...repair.cancels];
        let state: { tokens: number; book: Book } = { tokens: view.tokens, book: view.book };
        for (const booked of sent) state = cancel(state.tokens, state.book, view.serverNow, repair.policy, booked.cost, booked.turn);
        // Nothing changes when every waiter was due already (or its entry is gone).
        writing = state.tokens !== view.tokens;
        return writing ? { tokens: state.tokens, book: withMark(state.book, this.host.tag, mark) } : undefined;
      });
      this.take(repair, sent);
      repair.failures = 0;
    } catch (error) {
      givenUp = true;
      if (writing && this.host.unknownOutcome(error)) {
        this.take(repair, sent);
        repair.unsure.push({ kind: 'cancels', mark, cancels: sent, blind: false });
      }
      this.host.failed(error);
      repair.failures++;
      if (this.host.available()) this.later(repair, Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (repair.failures - 1)));
      return;
    }
    if (repair.cancels.length > 0) return this.later(repair, 0);
    if (repair.unsure.length > 0) return this.later(repair, UNSURE_RECHECK_MS * 2 ** Math.min(6, repair.rechecks++));
    repair.rechecks = 0;
    this.forget(repair, false);
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
