// Pure reservation math for a cluster-wide FIFO: waiters reserve tokens ahead, the bucket goes into debt.

import type { BucketPolicy } from './policy.js';
import { AGING_MS } from './priority.js';

/**
 * Waiters due at about the same time, counted together: `count` waiters whose tokens come by
 * `due` (a clock reading, rounded up to {@link SLOT_MS} when the slot was made; a later
 * {@link Shift} moves it by its exact amount). A bucket keeps one list of slots.
 */
export interface Slot {
  readonly due: number;
  readonly count: number;
  /** Tokens its waiters are owed (absent in data written before costs were kept: `count`). */
  readonly owed?: number;
  /**
   * The earliest virtual arrival of its waiters (see {@link virtualArrival}); absent in older data,
   * and then nobody goes ahead of this slot.
   */
  readonly v?: number;
  /** The earliest maxWait deadline of its waiters: no shift moves the slot past it (absent: none known). */
  readonly d?: number;
  /** The highest priority among its waiters (absent: 0). Only asks of a higher priority go ahead of it. */
  readonly p?: number;
}

/** Width of a slot in ms: the waiter count may lag by this much, never more. */
export const SLOT_MS = 50;

/**
 * An ask goes ahead of a slot only when its virtual arrival is earlier than the slot's by more than
 * this (ms): a margin over the error of the processes' estimates of ZooKeeper's clock.
 */
export const ORDER_WINDOW_MS = 10;

/**
 * Slots due sooner than this are never gone ahead of: the processes holding them must hear of the
 * change (a ZooKeeper watch) before their turn comes (ms).
 */
export const JUMP_HORIZON_MS = 50;

/** The most shifts a book keeps; while it is full, new asks queue at the end (plain FIFO). */
export const MAX_SHIFTS = 256;

/**
 * A record that an ask went ahead of waiters already reserved: every slot due at or after `from`
 * became due `by` ms later. `seq` orders shifts; a waiter applies those newer than its own turn.
 * Kept until `until`, when no waiter it moved is still waiting.
 */
export interface Shift {
  readonly seq: number;
  readonly from: number;
  readonly by: number;
  readonly until: number;
}

/** The shifts of a book, and the sequence number of the last one. */
export interface Ledger {
  readonly seq: number;
  readonly shifts: readonly Shift[];
}

/** A book with no shifts. */
export const EMPTY_LEDGER: Ledger = { seq: 0, shifts: [] };

/**
 * Where a granted waiter stands in the book: its due time, its slot's due time, and the last shift
 * it knows of. {@link applyShifts} moves it when asks went ahead of it.
 */
export interface Turn {
  due: number;
  slot: number;
  seq: number;
}

/** A take that wants to wait: its cost, and the longest it may wait. */
export interface ReservationAsk {
  readonly cost: number;
  readonly maxWaitMs: number;
  /** Its priority (default 0): see {@link virtualArrival}. */
  readonly priority?: number;
  /** How long it has waited already, in this process (default 0). */
  readonly waitedMs?: number;
  /**
   * Whether its process follows the book's shifts (`queue.priorities`): only such waiters can be
   * gone ahead of by asks of a higher priority; the others keep their turns as granted.
   */
  readonly follow?: boolean;
}

/** What became of one ask. */
export type ReservationOutcome =
  | {
      readonly granted: true;
      readonly waitMs: number;
      /** When the tokens are there, on the clock of the book that granted it. */
      readonly due: number;
      /** Its place in the book, for shifts (absent when granted at once or by a store without a book). */
      readonly turn?: Turn;
      /** What the store needs to cancel this reservation; opaque to the queue. */
      readonly ticket?: unknown;
    }
  | { readonly granted: false; readonly reason: 'queue-full' | 'limited' | 'unavailable'; readonly retryAfterMs: number };

/** The result of reserving a batch of asks, in order. */
export interface ReservationResult {
  readonly outcomes: ReservationOutcome[];
  /** Tokens in the bucket after the batch (negative while waiters are owed tokens). */
  readonly tokens: number;
  /** Waiters still waiting in the whole queue after the batch (all processes). */
  readonly waiting: number;
  /** The book's shifts after the batch: waiters reserved earlier apply them (see {@link applyShifts}). */
  readonly shifts?: readonly Shift[];
}

/**
 * The virtual arrival of an ask: its arrival, `AGING_MS` earlier per priority level. The queue is
 * one FIFO by virtual arrival, so a priority-2 ask goes ahead of priority-0 waiters that arrived less
 * than 2 s before it, and after those that have waited longer (nobody is starved for ever).
 */
export function virtualArrival(now: number, ask: ReservationAsk): number {
  return now - (ask.waitedMs ?? 0) - (ask.priority ?? 0) * AGING_MS;
}

/** Tokens the waiters of a slot are owed. */
function owedOf(slot: Slot): number {
  return slot.owed ?? slot.count;
}

/** Slots whose waiters are still waiting at `now`. */
export function pendingSlots(slots: readonly Slot[], now: number): Slot[] {
  return slots.filter((slot) => slot.due > now);
}

/** The number of waiters still waiting at `now`. */
export function waitingCount(slots: readonly Slot[], now: number): number {
  let count = 0;
  for (const slot of slots) if (slot.due > now) count += slot.count;
  return count;
}

/**
 * Reserves tokens for `asks`, in order, from a bucket holding `tokens` at `now` (refilled already).
 *
 * Each granted ask takes its cost at once, so the bucket may go below zero: the debt is the cost of
 * everyone ahead, and an ask is due when the refill has paid its share. Asks queue behind every slot
 * (the order of reservations), except that an ask of a higher priority goes ahead of waiters of
 * lower priorities that arrived later by the ageing rule ({@link virtualArrival}: more than
 * {@link ORDER_WINDOW_MS} later), due after {@link JUMP_HORIZON_MS}: it goes ahead of the first
 * such slot, and that slot and every later one become due `cost / rate` later: a
 * {@link Shift} in the returned ledger, which the processes holding those waiters apply. The store
 * serialises reservations (one compare-and-set per batch). An ask that would wait longer than its
 * `maxWaitMs` is refused at once with the wait it would have had; one that finds `maxSize` waiters
 * already waiting is refused as `'queue-full'`. An ask that fits now is granted with no wait.
 */
export function reserve(
  tokens: number,
  slots: readonly Slot[],
  now: number,
  policy: BucketPolicy,
  asks: readonly ReservationAsk[],
  maxSize: number,
  ledger: Ledger = EMPTY_LEDGER,
): { tokens: number; slots: Slot[]; ledger: Ledger; result: ReservationResult } {
  let balance = tokens;
  const kept: MutableSlot[] = pendingSlots(slots, now).map((slot) => ({ ...slot }));
  let waiting = waitingCount(kept, now);
  let seq = ledger.seq;
  const shifts = ledger.shifts.filter((shift) => shift.until > now).map((shift) => ({ ...shift }));
  const outcomes: ReservationOutcome[] = [];
  for (const ask of asks) {
    const virtual = virtualArrival(now, ask);
    const from = shifts.length < MAX_SHIFTS && (ask.priority ?? 0) > 0 ? jumpPoint(kept, ask.priority ?? 0, virtual, now, ask.cost / policy.ratePerMs) : undefined;
    let owed = 0;
    let ahead = 0;
    for (const slot of kept) {
      owed += owedOf(slot);
      if (from === undefined || slot.due < from) ahead += owedOf(slot);
    }
    // Tokens there would be with nobody owed; the ask needs everyone ahead paid, then its cost.
    const available = balance + owed;
    const needed = ahead + ask.cost;
    const waitMs = needed <= available + 1e-9 ? 0 : (needed - available) / policy.ratePerMs;
    if (waitMs > 0 && waiting >= maxSize) {
      outcomes.push({ granted: false, reason: 'queue-full', retryAfterMs: waitMs });
      continue;
    }
    if (waitMs > ask.maxWaitMs) {
      outcomes.push({ granted: false, reason: 'limited', retryAfterMs: waitMs });
      continue;
    }
    balance -= ask.cost;
    if (from !== undefined) {
      const by = ask.cost / policy.ratePerMs;
      let until = now;
      for (const slot of kept) {
        if (slot.due >= from) slot.due += by;
        until = Math.max(until, slot.due);
      }
      for (const shift of shifts) shift.until = Math.max(shift.until, until);
      shifts.push({ seq: ++seq, from, by, until });
    }
    if (waitMs === 0) {
      outcomes.push({ granted: true, waitMs: 0, due: now });
      continue;
    }
    waiting++;
    const due = now + waitMs;
    // Only the waiters of a process that follows the book's shifts can be gone ahead of.
    const slot = addToSlot(kept, due, ask, ask.follow === true ? virtual : undefined, now + ask.maxWaitMs);
    outcomes.push({ granted: true, waitMs, due, turn: { due, slot, seq } });
  }
  const after: Ledger = { seq, shifts };
  return { tokens: balance, slots: kept, ledger: after, result: { outcomes, tokens: balance, waiting, shifts } };
}

/**
 * Moves a granted waiter's turn by the shifts it does not know yet (those with a higher `seq`, in
 * order): each one whose `from` is at or before the waiter's slot makes it due `by` ms later, as it
 * did the slot in the book. Returns the ms added (0 when nothing moved it).
 */
export function applyShifts(turn: Turn, shifts: readonly Shift[]): number {
  let added = 0;
  const newer = shifts.filter((shift) => shift.seq > turn.seq).sort((a, b) => a.seq - b.seq);
  for (const shift of newer) {
    if (turn.slot >= shift.from - 1e-6) {
      turn.slot += shift.by;
      turn.due += shift.by;
      added += shift.by;
    }
    turn.seq = shift.seq;
  }
  return added;
}

/**
 * Removes a granted reservation whose waiter left before its turn. Its tokens go back to the bucket
 * only when nobody waits behind it: waiters behind it already hold their turns, and tokens given
 * back in front of them would let a later arrival overtake them. So an abort never breaks the
 * FIFO; the price is that a waiter leaving from the middle of the queue wastes its tokens.
 */
export function cancel(tokens: number, slots: readonly Slot[], now: number, policy: BucketPolicy, cost: number, turn: Pick<Turn, 'due' | 'slot'>): { tokens: number; slots: Slot[] } {
  const kept: MutableSlot[] = pendingSlots(slots, now).map((slot) => ({ ...slot }));
  if (turn.due <= now) return { tokens, slots: kept };
  const own = kept.find((slot) => Math.abs(slot.due - turn.slot) < 1e-6);
  const last = kept.every((slot) => slot.due <= turn.slot + 1e-6);
  if (own !== undefined) {
    own.count -= 1;
    own.owed = owedOf(own) - cost;
  }
  const remaining = kept.filter((slot) => slot.count > 0);
  return { tokens: last ? Math.min(policy.burst, tokens + cost) : tokens, slots: remaining };
}

/** The turn of a waiter due at `due` that has heard of no shift: for books that keep none. */
export function plainTurn(due: number): Turn {
  return { due, slot: slotOf(due), seq: 0 };
}

type MutableSlot = { due: number; count: number; owed?: number; v?: number; d?: number; p?: number };

/**
 * The first slot an ask of `priority` and virtual arrival `virtual` goes ahead of: its due time, or
 * undefined (queue at the end). A slot qualifies when its waiters all have a lower priority and
 * arrived (virtually) later, it is due beyond the horizon, and moving it and every later slot back
 * by `by` ms keeps each of them within its waiters' maxWait deadlines. Asks of equal priority never
 * go ahead of each other: among them the order of reservations stands.
 */
function jumpPoint(slots: readonly Slot[], priority: number, virtual: number, now: number, by: number): number | undefined {
  const candidates = slots
    .filter((slot) => slot.v !== undefined && (slot.p ?? 0) < priority && slot.v > virtual + ORDER_WINDOW_MS && slot.due > now + JUMP_HORIZON_MS)
    .map((slot) => slot.due)
    .sort((a, b) => a - b);
  for (const from of candidates) {
    if (slots.every((slot) => slot.due < from || slot.d === undefined || slot.due + by <= slot.d)) return from;
  }
  return undefined;
}

function slotOf(due: number): number {
  return Math.ceil(due / SLOT_MS) * SLOT_MS;
}

/** Adds a waiter to the slot of `due` (made when missing); returns that slot's due time. */
function addToSlot(slots: MutableSlot[], due: number, ask: ReservationAsk, virtual: number | undefined, deadline: number): number {
  const slotDue = slotOf(due);
  const slot = slots.find((s) => s.due === slotDue);
  const priority = ask.priority ?? 0;
  if (slot !== undefined) {
    slot.count += 1;
    slot.owed = owedOf(slot) + ask.cost;
    // A slot is gone ahead of only if every waiter in it is followed (has a virtual arrival).
    slot.v = slot.v === undefined || virtual === undefined ? undefined : Math.min(slot.v, virtual);
    slot.d = slot.d === undefined ? undefined : Math.min(slot.d, deadline);
    slot.p = Math.max(slot.p ?? 0, priority);
  } else {
    slots.push({ due: slotDue, count: 1, owed: ask.cost, ...(virtual !== undefined && { v: virtual }), d: deadline, ...(priority !== 0 && { p: priority }) });
  }
  return slotDue;
}
