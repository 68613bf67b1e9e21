// A memory store that also reserves: what a shared store (ZooKeeper) offers to the cluster queue, on one process's memory.

import type { Clock } from '../../src/clock.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { BucketPolicy } from '../../src/policy.js';
import { plainTurn, type ReservationAsk, type Shift, type Turn } from '../../src/reservation.js';
import type { Store } from '../../src/store.js';

/**
 * A Store with `reserve`, `cancel` and `watchReservations` backed by MemoryStore's reservation book;
 * `cancels` counts cancellations. Limiters sharing one such store behave as processes sharing a
 * ZooKeeper bucket: each hears the book's shifts after every reservation, as a watch would tell it.
 */
export function reservingStore(clock: Clock): Store & { cancels: number } {
  const memory = new MemoryStore({ clock });
  const listeners = new Map<string, Set<(shifts: readonly Shift[]) => void>>();
  const store = {
    cancels: 0,
    take: (p: BucketPolicy, k: string, c: number) => memory.take(p, k, c),
    refund: (p: BucketPolicy, k: string, a: number) => memory.refund(p, k, a),
    peek: (p: BucketPolicy, k: string) => memory.peek(p, k),
    reset: (p: BucketPolicy, k: string) => memory.reset(p, k),
    close: () => memory.close(),
    reserve: async (p: BucketPolicy, k: string, asks: readonly ReservationAsk[], maxSize: number) => {
      const result = memory.reserveTokens(p, k, asks, maxSize);
      // A watch fires after the write: other holders hear the shifts a little later.
      const heard = [...(listeners.get(`${p.name}/${k}`) ?? [])];
      if (heard.length > 0) setTimeout(() => heard.forEach((listener) => listener(result.shifts ?? [])), 1);
      return { ...result, outcomes: result.outcomes.map((o, i) => (o.granted ? { ...o, ticket: { cost: asks[i]!.cost, turn: o.turn ?? plainTurn(o.due) } } : o)) };
    },
    cancel: async (p: BucketPolicy, k: string, ticket: unknown) => {
      store.cancels++;
      const { cost, turn } = ticket as { cost: number; turn: Turn };
      memory.cancelTokens(p, k, cost, turn);
    },
    watchReservations: (p: BucketPolicy, k: string, listener: (shifts: readonly Shift[]) => void) => {
      const id = `${p.name}/${k}`;
      const set = listeners.get(id) ?? new Set();
      set.add(listener);
      listeners.set(id, set);
      return () => set.delete(listener);
    },
  };
  return store;
}
