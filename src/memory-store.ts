// The default store: token buckets in this process's memory, evicted as soon as they are full again.

import { monotonicClock, type Clock } from './clock.js';
import type { BucketPolicy } from './policy.js';
import { cancel, reserve, type ReservationAsk, type ReservationResult, type Slot } from './reservation.js';
import type { Store, StoreTakeResult } from './store.js';
import { returnTokens, takeTokens, tokensAt, type BucketState } from './token-bucket.js';

/** A bucket in memory: its tokens (negative while reserved waiters are owed) and their slots. */
interface MemoryBucket extends BucketState {
  readonly slots?: readonly Slot[];
}

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** The clock buckets refill by. Default: a monotonic clock. */
  clock?: Clock;
}

/** How many buckets a single write may inspect for eviction, beyond the first full one. */
const EVICTIONS_PER_WRITE = 32;

/**
 * Keeps buckets in a `Map` per policy, one process only, with no timers.
 *
 * A bucket that is full again holds no information (a new bucket starts full), so it is evicted.
 * Each write moves its bucket to the end of its map; the map's front therefore holds the buckets
 * touched longest ago, and each write evicts the front ones that are full by now. Memory stays
 * bounded by the keys seen within one full-refill time (`burst / rate × interval`).
 */
export class MemoryStore implements Store {
  private readonly clock: Clock;
  private readonly buckets = new Map<string, Map<string, MemoryBucket>>();

  /** Creates an empty store. */
  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? monotonicClock;
  }

  /** {@inheritDoc Store.take} */
  async take(policy: BucketPolicy, key: string, cost: number): Promise<StoreTakeResult> {
    return this.takeSync(policy, key, cost);
  }

  /** {@inheritDoc Store.takeSync} */
  takeSync(policy: BucketPolicy, key: string, cost: number): StoreTakeResult {
    const map = this.mapOf(policy);
    const now = this.clock.now();
    const state = map.get(key);
    if (state === undefined) {
      if (cost > policy.burst) return { taken: false, tokens: policy.burst };
      const tokens = policy.burst - cost;
      if (tokens < policy.burst) this.write(map, policy, key, { tokens, updatedAt: now }, now);
      return { taken: true, tokens };
    }
    const outcome = takeTokens(state, policy, cost, now);
    // An object literal, not a spread: this is the hot path of every take.
    this.write(map, policy, key, { tokens: outcome.state.tokens, updatedAt: outcome.state.updatedAt, slots: state.slots }, now);
    return { taken: outcome.taken, tokens: outcome.state.tokens };
  }

  /** {@inheritDoc Store.refund} */
  async refund(policy: BucketPolicy, key: string, amount: number): Promise<void> {
    const map = this.mapOf(policy);
    const state = map.get(key);
    if (state === undefined) return;
    const now = this.clock.now();
    const refunded = returnTokens(state, policy, amount, now);
    this.write(map, policy, key, { tokens: refunded.tokens, updatedAt: refunded.updatedAt, slots: state.slots }, now);
  }

  /**
   * Reserves tokens for waiting takes in order (see `reserve` in reservation.ts), on the same
   * buckets as {@link take}. Not part of the Store interface: the ZooKeeper store uses it as its
   * local fallback, so that queuing goes on while ZooKeeper is unreachable.
   */
  reserveTokens(policy: BucketPolicy, key: string, asks: readonly ReservationAsk[], maxSize: number): ReservationResult {
    const map = this.mapOf(policy);
    const now = this.clock.now();
    const state = map.get(key);
    const tokens = state === undefined ? policy.burst : tokensAt(state, policy, now);
    const reserved = reserve(tokens, state?.slots ?? [], now, policy, asks, maxSize);
    this.write(map, policy, key, { tokens: reserved.tokens, updatedAt: now, slots: reserved.slots }, now);
    return reserved.result;
  }

  /** Gives back the tokens of a reservation from {@link reserveTokens} whose waiter left before `due`. */
  cancelTokens(policy: BucketPolicy, key: string, cost: number, due: number): void {
    const map = this.mapOf(policy);
    const state = map.get(key);
    if (state === undefined) return;
    const now = this.clock.now();
    const cancelled = cancel(tokensAt(state, policy, now), state.slots ?? [], now, policy, cost, due);
    this.write(map, policy, key, { tokens: cancelled.tokens, updatedAt: now, slots: cancelled.slots }, now);
  }

  /** {@inheritDoc Store.peek} */
  async peek(policy: BucketPolicy, key: string): Promise<number> {
    const state = this.buckets.get(policy.name)?.get(key);
    return state === undefined ? policy.burst : tokensAt(state, policy, this.clock.now());
  }

  /** {@inheritDoc Store.reset} */
  async reset(policy: BucketPolicy, key: string): Promise<void> {
    this.buckets.get(policy.name)?.delete(key);
  }

  /** {@inheritDoc Store.close} */
  async close(): Promise<void> {
    this.buckets.clear();
  }

  /** The number of buckets held for `policyName` (all policies when omitted): full buckets are not held. */
  size(policyName?: string): number {
    if (policyName !== undefined) return this.buckets.get(policyName)?.size ?? 0;
    let total = 0;
    for (const map of this.buckets.values()) total += map.size;
    return total;
  }

  private mapOf(policy: BucketPolicy): Map<string, MemoryBucket> {
    let map = this.buckets.get(policy.name);
    if (map === undefined) {
      map = new Map();
      this.buckets.set(policy.name, map);
    }
    return map;
  }

  /** Stores `state` at the end of the map (or drops it when full), then evicts full buckets at the front. */
  private write(map: Map<string, MemoryBucket>, policy: BucketPolicy, key: string, state: MemoryBucket, now: number): void {
    map.delete(key);
    if (state.tokens < policy.burst) map.set(key, state);
    let inspected = 0;
    for (const [oldKey, oldState] of map) {
      if (tokensAt(oldState, policy, now) < policy.burst || inspected++ >= EVICTIONS_PER_WRITE) break;
      map.delete(oldKey);
    }
  }
}
