// Pure reservation math for a cluster-wide FIFO: waiters reserve tokens ahead, the bucket goes into debt.

import type { BucketPolicy } from './policy.js';

/**
 * Waiters due at about the same time, counted together: `count` waiters whose tokens come by
 * `due` (a clock reading, rounded up to {@link SLOT_MS}). A bucket keeps one list of slots.
 */
export interface Slot {
  readonly due: number;
  readonly count: number;
}

/** Width of a slot in ms: the waiter count may lag by this much, never more. */
export const SLOT_MS = 50;

/** A take that wants to wait: its cost, and the longest it may wait. */
export interface ReservationAsk {
  readonly cost: number;
  readonly maxWaitMs: number;
}

/** What became of one ask. */
export type ReservationOutcome =
  | {
      readonly granted: true;
      readonly waitMs: number;
      /** When the tokens are there, on the clock of the book that granted it. */
      readonly due: number;
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
 * everyone ahead, and an ask is due when the refill has paid its share, `-tokensAfter / rate` from
 * now. Arrival order is the order of reservations, which the store serialises (one compare-and-set
 * per batch), so the queue is one FIFO across every process. An ask that would wait longer than its
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
): { tokens: number; slots: Slot[]; result: ReservationResult } {
  let balance = tokens;
  const kept = pendingSlots(slots, now).map((slot) => ({ ...slot }));
  let waiting = waitingCount(kept, now);
  const outcomes: ReservationOutcome[] = [];
  for (const ask of asks) {
    const after = balance - ask.cost;
    const waitMs = after >= -1e-9 ? 0 : -after / policy.ratePerMs;
    if (waitMs === 0) {
      balance = after;
      outcomes.push({ granted: true, waitMs: 0, due: now });
      continue;
    }
    if (waiting >= maxSize) {
      outcomes.push({ granted: false, reason: 'queue-full', retryAfterMs: waitMs });
      continue;
    }
    if (waitMs > ask.maxWaitMs) {
      outcomes.push({ granted: false, reason: 'limited', retryAfterMs: waitMs });
      continue;
    }
    balance = after;
    waiting++;
    const due = now + waitMs;
    addToSlot(kept, due, 1);
    outcomes.push({ granted: true, waitMs, due });
  }
  return { tokens: balance, slots: kept, result: { outcomes, tokens: balance, waiting } };
}

/**
 * Removes a granted reservation whose waiter left before `due`. Its tokens go back to the bucket
 * only when nobody waits behind it: waiters behind it already hold their turns, and tokens given
 * back in front of them would let a later arrival overtake them. So an abort never breaks the
 * FIFO; the price is that a waiter leaving from the middle of the queue wastes its tokens.
 */
export function cancel(tokens: number, slots: readonly Slot[], now: number, policy: BucketPolicy, cost: number, due: number): { tokens: number; slots: Slot[] } {
  const kept = pendingSlots(slots, now).map((slot) => ({ ...slot }));
  if (due <= now) return { tokens, slots: kept };
  const slotDue = slotOf(due);
  const last = kept.every((slot) => slot.due <= slotDue);
  addToSlot(kept, due, -1);
  const remaining = kept.filter((slot) => slot.count > 0);
  return { tokens: last ? Math.min(policy.burst, tokens + cost) : tokens, slots: remaining };
}

function slotOf(due: number): number {
  return Math.ceil(due / SLOT_MS) * SLOT_MS;
}

function addToSlot(slots: Array<{ due: number; count: number }>, due: number, delta: number): void {
  const slotDue = slotOf(due);
  const slot = slots.find((s) => s.due === slotDue);
  if (slot !== undefined) slot.count += delta;
  else if (delta > 0) slots.push({ due: slotDue, count: delta });
}
