// The contract of a limiter's queue: takes that wait for tokens, and what the queue reports.

import type { BucketPolicy } from './policy.js';

/** How a wait in the queue ended. */
export type QueueOutcome =
  | { readonly admitted: true; readonly tokens: number; readonly waitedMs: number }
  | {
      readonly admitted: false;
      readonly reason: 'limited' | 'queue-full' | 'timeout' | 'aborted' | 'closed' | 'unavailable' | 'cost-exceeds-burst';
      readonly tokens: number;
      readonly retryAfterMs: number;
      readonly waitedMs: number;
    };

/** What the queue reports as it works; the limiter turns these into events. */
export interface QueueObserver {
  /** A take was told to wait: `position` 0 is the head; `predictedWaitMs` is its expected wait. */
  enqueued(key: string, cost: number, position: number, size: number, predictedWaitMs: number): void;
  /** A take that had waited was served. */
  dequeued(key: string, cost: number, waitedMs: number): void;
  /** A take that had waited was rejected because it could not be served within maxWait. */
  timedOut(key: string, cost: number, waitedMs: number): void;
  /** A take was aborted through its signal while in the queue. */
  aborted(key: string, cost: number, waitedMs: number): void;
}

/** Bounds of the queue, validated. */
export interface QueueLimits {
  readonly maxSize: number;
  readonly maxWaitMs: number;
  /** The cluster queue's batching window (ms); its default when absent. */
  readonly batchWindowMs?: number;
  /** The cluster queue books this process's priorities in the shared book, so that they go ahead of lower ones of every process. */
  readonly priorities?: boolean;
  /** The cluster queue serves a waiter no earlier than this long (ms) after it arrived (see `queue.orderGrace`). */
  readonly orderGraceMs?: number;
}

/** What a queue holds now, for operators (`flowgate status`, metrics). */
export interface QueueStats {
  readonly waiting: number;
  readonly oldestWaitMs: number;
}

/** A queue of takes waiting for tokens, per key. The limiter uses one when its `queue` option is set. */
export interface TakeQueue {
  /**
   * Takes `cost` tokens for `key`, waiting in line when they are not there yet. Waiters of higher
   * `priority` (default 0) go first, FIFO within a priority, with ageing (see priority.ts).
   */
  take(key: string, cost: number, signal?: AbortSignal, priority?: number): Promise<QueueOutcome>;
  /** Whether `key` has nothing waiting and nothing in flight here: a take may then go straight to the store. */
  idle(key: string): boolean;
  /** Number of takes of this process waiting for `key`. */
  size(key: string): number;
  /** Tokens the takes of this process waiting for `key` still need from the bucket, together (a booked turn's are owed by the bucket already). */
  queuedCost(key: string): number;
  /** The bucket of `key` got tokens outside the queue (reset, refund): re-check now. */
  wake(key: string): void;
  /** Answers every waiter with `'closed'` and stops every timer. */
  close(): void;
  /** Takes waiting now over all keys, and how long the longest-waiting one has waited (ms; 0 when none). */
  stats(): QueueStats;
  /** Applies a changed policy and queue bounds (a live policy change) to later takes and to the waiters' predictions. */
  update(policy: BucketPolicy, limits: QueueLimits): void;
}
