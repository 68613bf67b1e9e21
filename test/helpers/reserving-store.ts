// A memory store that also reserves: what a shared store (ZooKeeper) offers to the cluster queue, on one process's memory.

import type { Clock } from '../../src/clock.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { BucketPolicy } from '../../src/policy.js';
import type { ReservationAsk } from '../../src/reservation.js';
import type { Store } from '../../src/store.js';

/** A Store with `reserve` and `cancel` backed by MemoryStore's reservation book; `cancels` counts cancellations. */
export function reservingStore(clock: Clock): Store & { cancels: number } {
  const memory = new MemoryStore({ clock });
  const store = {
    cancels: 0,
    take: (p: BucketPolicy, k: string, c: number) => memory.take(p, k, c),
    refund: (p: BucketPolicy, k: string, a: number) => memory.refund(p, k, a),
    peek: (p: BucketPolicy, k: string) => memory.peek(p, k),
    reset: (p: BucketPolicy, k: string) => memory.reset(p, k),
    close: () => memory.close(),
    reserve: async (p: BucketPolicy, k: string, asks: readonly ReservationAsk[], maxSize: number) => {
      const result = memory.reserveTokens(p, k, asks, maxSize);
      return { ...result, outcomes: result.outcomes.map((o, i) => (o.granted ? { ...o, ticket: { cost: asks[i]!.cost, due: o.due } } : o)) };
    },
    cancel: async (p: BucketPolicy, k: string, ticket: unknown) => {
      store.cancels++;
      const { cost, due } = ticket as { cost: number; due: number };
      memory.cancelTokens(p, k, cost, due);
    },
  };
  return store;
}
