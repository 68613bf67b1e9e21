// The Store seam: where token buckets live. The memory store and the ZooKeeper store implement it.

import type { PolicyUpdate, PublishedPolicy, QueueBounds, VersionedPolicy } from './policy-update.js';
import type { BucketPolicy } from './policy.js';
import type { BookUpdate, ReservationAsk, ReservationResult } from './reservation.js';

/** What a store answers to a take. */
export interface StoreTakeResult {
  /** Whether the cost was taken from the bucket. */
  readonly taken: boolean;
  /**
   * Tokens left in the bucket after the attempt, as this process best knows them. The limiter
   * derives `remaining`, `retryAfterMs` and `resetMs` from it with the policy's refill rate.
   */
  readonly tokens: number;
  /**
   * When not taken: the earliest time, in ms from now, at which a retry can succeed, when the
   * store knows better than the refill rate applied to `tokens` (for example, it waits before
   * asking a shared service again). The limiter uses the larger of the two.
   */
  readonly retryAfterMs?: number;
  /**
   * When not taken because the backing service is unreachable and the store's policy is to
   * refuse then (`onUnavailable: 'closed'`): `'unavailable'`.
   */
  readonly reason?: 'unavailable';
}

/**
 * Keeps token buckets, one per (policy name, key), and changes them atomically.
 *
 * A store never waits for tokens: waiting is the limiter's overflow queue's job. Every method
 * must settle (resolve or reject) in bounded time, even when a backing service is unreachable.
 * One store may serve several limiters; limiters that share a store must have distinct names.
 */
export interface Store {
  /** Takes `cost` tokens from the bucket of `key` when they are there now; otherwise takes nothing. */
  take(policy: BucketPolicy, key: string, cost: number): Promise<StoreTakeResult>;
  /**
   * Optional fast path: the same as {@link take}, answered synchronously when the store can (the
   * memory store always can; a shared store when the tokens are already leased), else `undefined`
   * and nothing happened. Lets adapters decide without a promise on the hot path.
   */
  takeSync?(policy: BucketPolicy, key: string, cost: number): StoreTakeResult | undefined;
  /** Gives `amount` tokens back to the bucket of `key` (capped at burst): undoes a take that was not used. */
  refund(policy: BucketPolicy, key: string, amount: number): Promise<void>;
  /** Tokens in the bucket of `key` now, without taking any. */
  peek(policy: BucketPolicy, key: string): Promise<number>;
  /** Makes the bucket of `key` full again. */
  reset(policy: BucketPolicy, key: string): Promise<void>;
  /** Releases the store's resources (connections, timers). Further calls may reject. */
  close(): Promise<void>;
  /**
   * Optional: the policy of the buckets named `previous.name` changes to `next` (a live policy
   * change) in this process. A store that computes refill from the policy it is given settles its
   * buckets first: the refill until now counts at the previous rate and burst, not the new one.
   */
  policyChanged?(previous: BucketPolicy, next: BucketPolicy): void;
  /**
   * Optional, for stores shared by many processes: reserves tokens for waiting takes, in order, in
   * one atomic step, so that waiters of every process form one FIFO per key. When a store has it,
   * the limiter's queue reserves through it instead of retrying `take` (see `ReservationQueue`).
   */
  reserve?(policy: BucketPolicy, key: string, asks: readonly ReservationAsk[], maxSize: number): Promise<ReservationResult>;
  /** Optional, with `reserve`: gives back the tokens of a granted reservation (its `ticket`) whose waiter left. */
  cancel?(policy: BucketPolicy, key: string, ticket: unknown): Promise<void>;
  /**
   * Optional, with `reserve`: calls `listener` with the book of the bucket of `key` now and
   * whenever it changes, so that this process's waiters are timed again when asks of other
   * processes that arrived earlier went ahead of them, or waiters ahead of them left. Returns a
   * function that stops it. A store without it keeps every reservation's turn as granted.
   */
  watchReservations?(policy: BucketPolicy, key: string, listener: (update: BookUpdate) => void): () => void;
  /**
   * Optional, for shared stores: publishes `update` to limiter `name` in every process (applied over
   * the published policy, or over `base` when none is published yet); resolves with what is now
   * published. Queue bounds the update leaves out, over a policy without them, come from
   * `queueDefaults` (the limiter's own queue), as {@link applyPolicyUpdate} takes them. Without
   * it, {@link Limiter.setPolicy} changes this process's limiter only.
   */
  publishPolicy?(name: string, update: PolicyUpdate, base: PublishedPolicy, queueDefaults?: QueueBounds): Promise<VersionedPolicy>;
  /**
   * Optional, with `publishPolicy`: calls `listener` with the published policy of limiter `name`
   * now and on every change (`undefined` when none is published). Returns a function that stops it.
   */
  watchPolicy?(name: string, listener: (policy: VersionedPolicy | undefined) => void): () => void;
  /**
   * Optional, with `watchPolicy`: how long (ms) a new limiter's takes wait for the first answer of
   * `watchPolicy` before going ahead on the limiter's own options (1000 when absent; 0: no wait).
   */
  readonly policyWaitMs?: number;
  /**
   * Optional, for shared stores: `probe` tells what limiter `name` of this process holds (waiting
   * takes, the oldest wait, the policy version), for operators of the cluster (`flowgate status`).
   * Returns a function that detaches it.
   */
  attachLimiter?(name: string, probe: () => LimiterProbe): () => void;
  /**
   * Optional: throws {@link FlowgateConfigError} when this store cannot decide for a limiter of
   * `policy` (a ZooKeeper store opened with `countAsMember: false`). Called when a limiter is made.
   */
  checkLimiter?(policy: BucketPolicy): void;
}

/** What a limiter reports of itself to a shared store (see {@link Store.attachLimiter}). */
export interface LimiterProbe {
  /** Takes waiting in this process's queue, over all keys. */
  readonly queued: number;
  /** How long the longest-waiting of them has waited, ms (0 when none). */
  readonly oldestWaitMs: number;
  /** The version of the published policy in force; null while the options' own is. */
  readonly policyVersion: number | null;
  readonly rate: number;
  readonly intervalMs: number;
  readonly burst: number;
  readonly strict: boolean;
}
