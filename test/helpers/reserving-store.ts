// A memory store that also reserves: what a shared store (ZooKeeper) offers to the cluster queue, on one process's memory.

import type { Clock } from '../../src/clock.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { BucketPolicy } from '../../src/policy.js';
import { bookUpdate, type Book, type BookUpdate, type ReservationAsk, type Turn } from '../../src/reservation.js';
import type { Store } from '../../src/store.js';

/**
 * A Store with `reserve`, `cancel` and `watchReservations` backed by MemoryStore's reservation book;
 * `cancels` counts cancellations. Limiters sharing one such store behave as processes sharing a
 * ZooKeeper bucket: each hears the book after every reservation and cancellation, a little later,
 * as a watch would tell it.
 */
export function reservingStore(clock: Clock): Store & { cancels: number } {
  const memory = new MemoryStore({ clock });
  const listeners = new Map<string, Set<(update: BookUpdate) => void>>();
  let version = 0;
  const updateOf = (p: BucketPolicy, tokens: number, book: Book): BookUpdate => bookUpdate('book', ++version, tokens, clock.now(), book.entries, p, () => clock.now());
  const tell = (p: BucketPolicy, k: string, update: BookUpdate): void => {
    // A watch fires after the write: other holders hear the book a little later.
    const heard = [...(listeners.get(`${p.name}/${k}`) ?? [])];
    if (heard.length > 0) setTimeout(() => heard.forEach((listener) => listener(update)), 1);
  };
  const store = {
    cancels: 0,
    take: (p: BucketPolicy, k: string, c: number) => memory.take(p, k, c),
    refund: (p: BucketPolicy, k: string, a: number) => memory.refund(p, k, a),
    peek: (p: BucketPolicy, k: string) => memory.peek(p, k),
    reset: (p: BucketPolicy, k: string) => memory.reset(p, k),
    close: () => memory.close(),
    reserve: async (p: BucketPolicy, k: string, asks: readonly ReservationAsk[], maxSize: number) => {
      const { result, book } = memory.reserveTokens(p, k, asks, maxSize);
      const update = updateOf(p, result.tokens, book);
      tell(p, k, update);
      return { ...result, update, outcomes: result.outcomes.map((o, i) => (o.granted ? { ...o, ticket: { cost: asks[i]!.cost, turn: o.turn } } : o)) };
    },
    cancel: async (p: BucketPolicy, k: string, ticket: unknown) => {
      store.cancels++;
      const { cost, turn } = ticket as { cost: number; turn: Turn };
      memory.cancelTokens(p, k, cost, turn);
      const state = memory.bookOf(p, k);
      tell(p, k, updateOf(p, state.tokens, state.book));
    },
    watchReservations: (p: BucketPolicy, k: string, listener: (update: BookUpdate) => void) => {
      const id = `${p.name}/${k}`;
      const set = listeners.get(id) ?? new Set();
      set.add(listener);
      listeners.set(id, set);
      return () => {
        set.delete(listener);
      };
    },
  };
  return store;
}
