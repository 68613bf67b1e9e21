// Priorities of waiting takes: the ranking rule with ageing (so that low priorities are never starved) and slot reassignment.

/**
 * Milliseconds of waiting worth one priority level. A waiting take's rank is its priority plus the
 * seconds it has waited, so a priority-0 take that has waited 3 s ranks with a fresh priority-3 one:
 * however much higher-priority traffic comes, an older take eventually ranks first.
 */
export const AGING_MS = 1000;

/** The rank of a take of `priority` that arrived at `arrivedAt`, at time `now` (higher goes first). */
export function rankOf(priority: number, arrivedAt: number, now: number): number {
  return priority + Math.max(0, now - arrivedAt) / AGING_MS;
}

/** A waiter holding a slot (a time its tokens are there), for {@link reassignSlots}. */
export interface SlotHolder<S> {
  readonly priority: number;
  readonly arrivedAt: number;
  /** The latest slot time it accepts (its maxWait deadline). */
  readonly deadline: number;
  slot: S;
}

/**
 * Hands the slots held by `holders` (all of one cost) out again by rank: higher rank gets the
 * earlier slot, ties by arrival, but no holder gets a slot later than its deadline. Greedy from the
 * latest slot: it goes to the lowest-ranked holder whose deadline allows it (always possible, since
 * the current assignment meets every deadline). Returns whether any holder's slot changed.
 */
export function reassignSlots<S>(holders: Array<SlotHolder<S>>, timeOf: (slot: S) => number, now: number): boolean {
  if (holders.length < 2) return false;
  const slots = holders.map((h) => h.slot).sort((a, b) => timeOf(a) - timeOf(b));
  // Lowest rank first; among equals, the later arrival is the lower, then the one holding the later slot.
  const byRank = [...holders].sort(
    (a, b) => rankOf(a.priority, a.arrivedAt, now) - rankOf(b.priority, b.arrivedAt, now) || b.arrivedAt - a.arrivedAt || timeOf(b.slot) - timeOf(a.slot),
  );
  const assigned = new Map<SlotHolder<S>, S>();
  for (let i = slots.length - 1; i >= 0; i--) {
    const slot = slots[i] as S;
    const at = timeOf(slot);
    const index = byRank.findIndex((h) => h.deadline >= at);
    // Unreachable while every holder's current slot meets its deadline; keep the slot where it is otherwise.
    const holder = index >= 0 ? (byRank.splice(index, 1)[0] as SlotHolder<S>) : (byRank.shift() as SlotHolder<S>);
    assigned.set(holder, slot);
  }
  let changed = false;
  for (const [holder, slot] of assigned) {
    if (holder.slot !== slot) {
      holder.slot = slot;
      changed = true;
    }
  }
  return changed;
}
