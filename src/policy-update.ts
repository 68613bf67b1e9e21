// A change of a limiter's policy at run time (rate, interval, burst, queue bounds), validated.

import { parseDuration, type Duration } from './duration.js';
import { FlowgateConfigError } from './errors.js';
import { rejectUnknownOptions, requireNumber, requireRefillRate, requireSafeCount, type QueueOptions } from './limiter-options.js';

/** What {@link Limiter.setPolicy} and `flowgate policy set` may change; fields left out keep their value. */
export interface PolicyUpdate {
  /** Tokens added per interval. */
  rate?: number;
  /** The refill interval: ms or a duration string. */
  interval?: Duration;
  /** Capacity in tokens. */
  burst?: number;
  /** New bounds of the overflow queue, or `false` to stop queuing (takes already waiting are still answered). */
  queue?: QueueOptions | false;
}

/** The bounds of an overflow queue as a published policy holds them. */
export interface QueueBounds {
  readonly maxSize: number;
  readonly maxWaitMs: number;
}

/** A complete policy as published: what every process of the cluster applies. */
export interface PublishedPolicy {
  readonly rate: number;
  readonly intervalMs: number;
  readonly burst: number;
  /** Queue bounds; `false`: no queuing; absent: each limiter keeps its own queue option. */
  readonly queue?: { readonly maxSize: number; readonly maxWaitMs: number } | false;
}

/** A published policy with its version (ZooKeeper's data version of the policy node; counts up from 0). */
export interface VersionedPolicy extends PublishedPolicy {
  readonly version: number;
}

const KNOWN = ['rate', 'interval', 'burst', 'queue'];

/**
 * Applies `update` over `base` and validates the result; throws {@link FlowgateConfigError} naming
 * the option and value. A `burst` left out follows a changed `rate` only when it was the old rate's
 * default (`max(1, ceil(rate))`). A queue bound left out comes from `base.queue`, else
 * `queueDefaults`, else 100 and 10 s; a `queue` the update does not mention stays as `base` has it
 * (absent: each limiter's own).
 */
export function applyPolicyUpdate(base: PublishedPolicy, update: PolicyUpdate, queueDefaults?: QueueBounds): PublishedPolicy {
  if (update === null || typeof update !== 'object') throw new FlowgateConfigError('policy', update, 'must be an object such as { rate: 100, burst: 200 }');
  rejectUnknownOptions(update, KNOWN);
  const rate = update.rate === undefined ? base.rate : requireSafeCount('rate', requireNumber('rate', update.rate, { min: 0, minInclusive: false }));
  const intervalMs = update.interval === undefined ? base.intervalMs : parseDuration(update.interval, 'interval', { ms: 0, exclusive: true });
  requireRefillRate(rate, intervalMs, update.interval);
  const followsRate = update.burst === undefined && base.burst === Math.max(1, Math.ceil(base.rate));
  const burst =
    update.burst !== undefined
      ? requireSafeCount('burst', requireNumber('burst', update.burst, { integer: true, min: 1, minInclusive: true }))
      : followsRate
        ? Math.max(1, Math.ceil(rate))
        : base.burst;
  let queue = base.queue;
  if (update.queue === false) queue = false;
  else if (update.queue !== undefined) {
    if (update.queue === null || typeof update.queue !== 'object') throw new FlowgateConfigError('queue', update.queue, 'must be false or { maxSize, maxWait }');
    rejectUnknownOptions(update.queue, ['maxSize', 'maxWait'], 'queue.');
    const old = base.queue === false || base.queue === undefined ? (queueDefaults ?? { maxSize: 100, maxWaitMs: 10_000 }) : base.queue;
    const maxSize = update.queue.maxSize === undefined ? old.maxSize : requireNumber('queue.maxSize', update.queue.maxSize, { integer: true, min: 0, minInclusive: true });
    const maxWaitMs = update.queue.maxWait === undefined ? old.maxWaitMs : parseDuration(update.queue.maxWait, 'queue.maxWait');
    if (maxWaitMs > 2_147_483_647) throw new FlowgateConfigError('queue.maxWait', update.queue.maxWait, 'must be at most 2147483647 ms (about 24.8 days)');
    queue = { maxSize, maxWaitMs };
  }
  return queue === undefined ? { rate, intervalMs, burst } : { rate, intervalMs, burst, queue };
}

/** Whether two published policies are the same version with the same figures. */
export function samePolicy(a: VersionedPolicy | undefined, b: VersionedPolicy | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const queueOf = (p: PublishedPolicy): string => JSON.stringify(p.queue ?? null);
  return a.version === b.version && a.rate === b.rate && a.intervalMs === b.intervalMs && a.burst === b.burst && queueOf(a) === queueOf(b);
}
