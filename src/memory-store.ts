// The default store: token buckets in this process's memory, evicted as soon as they are full again.

import { monotonicClock, type Clock } from './clock.js';
import { FlowgateConfigError } from './errors.js';
import { rejectUnknownOptions, resolveClock } from './limiter-options.js';
import type { BucketPolicy } from './policy.js';
import { cancel, EMPTY_BOOK, reserve, type Book, type ReservationAsk, type ReservationResult, type Turn } from './reservation.js';
import type { Store, StoreTakeResult } from './store.js';
import { fits, returnTokens, tokensAt, type BucketState } from './token-bucket.js';
import { brand } from './brand.js';

/** A bucket in memory: its tokens (negative while reserved waiters are owed) and their book. Updated in place by takes. */
interface MemoryBucket extends BucketState {
  tokens: number;
  updatedAt: number;
  /** When it last moved to the end of its map. */
  movedAt: number;
  /** Its reserved waiters (see reservation.ts), while any is kept. */
  readonly book?: Book;
}

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** The clock buckets refill by. Default: a monotonic clock. */
  clock?: Clock;
}

/** How many buckets a single write may inspect for eviction, beyond the first full one. */
const EVICTIONS_PER_WRITE = 32;
/** A bucket taken from in place moves to the end of its map (and the front is swept) at most this often. */
const MOVE_EVERY_MS = 50;
/** Takes that neither move nor create a bucket evict at the front once every this many. */
const EVICT_EVERY = 8;

/**
 * Keeps buckets in a `Map` per policy, one process only, with no timers.
 *
 * A bucket that is full again holds no information (a new bucket starts full), so it is evicted.
 * Takes update a bucket in place and move it to the end of its map (at most every 50 ms), so the
 * map's front holds the buckets used longest ago; each move or new bucket evicts the front ones
 * that are full by now. Memory stays bounded by the keys seen within one full-refill time
 * (`burst / rate × interval`), plus 50 ms.
 */
export class MemoryStore implements Store {
  private readonly clock: Clock;
  private readonly buckets = new Map<string, Map<string, MemoryBucket>>();
  private takesSinceEviction = 0;

  /** Creates an empty store. */
  constructor(options: MemoryStoreOptions = {}) {
    if (options === null || typeof options !== 'object') throw new FlowgateConfigError('options', options, 'must be an object such as { clock }');
    rejectUnknownOptions(options, ['clock']);
    this.clock = resolveClock(options.clock) ?? monotonicClock;
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
      if (tokens < policy.burst) this.write(map, policy, key, { tokens, updatedAt: now, movedAt: now }, now);
      return { taken: true, tokens };
    }
    // The hot path of every take: the bucket is updated in place (no new object, no map move).
    const tokens = tokensAt(state, policy, now);
    const taken = fits(tokens, cost);
    state.tokens = taken ? Math.max(0, tokens - cost) : tokens;
    // A clock that stepped back does not move the bucket's time back (its refill would count twice).
    if (now > state.updatedAt) state.updatedAt = now;
    // Recently used buckets stay near the end, so the front's scan meets the idle ones first.
    if (now - state.movedAt >= MOVE_EVERY_MS) {
      state.movedAt = now;
      map.delete(key);
      map.set(key, state);
      this.evictFront(map, policy, now);
    } else if (++this.takesSinceEviction >= EVICT_EVERY) {
      // Traffic on a few hot keys still clears idle ones out, a few at a time.
      this.takesSinceEviction = 0;
      this.evictFront(map, policy, now);
    }
    return { taken, tokens: state.tokens };
  }

  /** {@inheritDoc Store.refund} */
  async refund(policy: BucketPolicy, key: string, amount: number): Promise<void> {
    const map = this.mapOf(policy);
    const state = map.get(key);
    if (state === undefined) return;
    const now = this.clock.now();
    const refunded = returnTokens(state, policy, amount, now);
    this.write(map, policy, key, { tokens: refunded.tokens, updatedAt: refunded.updatedAt, movedAt: now, book: state.book }, now);
  }

  /**
   * Reserves tokens for waiting takes in order (see `reserve` in reservation.ts), on the same
   * buckets as {@link take}. Not part of the Store interface: the ZooKeeper store uses it as its
   * local fallback, so that queuing goes on while ZooKeeper is unreachable.
   */
  reserveTokens(policy: BucketPolicy, key: string, asks: readonly ReservationAsk[], maxSize: number): { result: ReservationResult; book: Book } {
    const map = this.mapOf(policy);
    const now = this.clock.now();
    const state = map.get(key);
    const tokens = state === undefined ? policy.burst : tokensAt(state, policy, now);
    const reserved = reserve(tokens, state?.book ?? EMPTY_BOOK, now, policy, asks, maxSize);
    this.write(map, policy, key, { tokens: reserved.tokens, updatedAt: now, movedAt: now, book: reserved.book }, now);
    return { result: reserved.result, book: reserved.book };
  }

  /** Gives back the tokens of a reservation from {@link reserveTokens} whose waiter left before its turn. */
  cancelTokens(policy: BucketPolicy, key: string, cost: number, turn: Turn): void {
    const map = this.mapOf(policy);
    const state = map.get(key);
    if (state === undefined) return;
    const now = this.clock.now();
    const cancelled = cancel(tokensAt(state, policy, now), state.book ?? EMPTY_BOOK, now, policy, cost, turn);
    this.write(map, policy, key, { tokens: cancelled.tokens, updatedAt: now, movedAt: now, book: cancelled.book }, now);
  }

  /** The tokens of the bucket of `key` now and its book of reserved waiters (for a store built on this one). */
  bookOf(policy: BucketPolicy, key: string): { tokens: number; book: Book } {
    const state = this.buckets.get(policy.name)?.get(key);
    return state === undefined ? { tokens: policy.burst, book: EMPTY_BOOK } : { tokens: tokensAt(state, policy, this.clock.now()), book: state.book ?? EMPTY_BOOK };
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

  /** {@inheritDoc Store.policyChanged} */
  policyChanged(previous: BucketPolicy, next: BucketPolicy): void {
    if (previous.ratePerMs === next.ratePerMs && previous.burst === next.burst) return;
    const map = this.buckets.get(previous.name);
    if (map === undefined) return;
    const now = this.clock.now();
    for (const state of map.values()) {
      state.tokens = tokensAt(state, previous, now);
      if (now > state.updatedAt) state.updatedAt = now;
    }
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
    this.evictFront(map, policy, now);
  }

  /**
   * Evicts the buckets at the front of the map that are full by now, up to {@link EVICTIONS_PER_WRITE}
   * beyond the first, and stops at the first that is not (the front holds the least recently moved).
   */
  private evictFront(map: Map<string, MemoryBucket>, policy: BucketPolicy, now: number): void {
    let inspected = 0;
    for (const [oldKey, oldState] of map) {
      if (tokensAt(oldState, policy, now) < policy.burst || inspected++ >= EVICTIONS_PER_WRITE) break;
      map.delete(oldKey);
    }
  }
}

brand(MemoryStore, 'MemoryStore');
