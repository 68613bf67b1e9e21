// The answer to a take: admitted or rejected, with the figures that headers and callers need.

import type { BucketPolicy } from './policy.js';
import { msUntilFull } from './token-bucket.js';

/**
 * Why a take was rejected:
 * - `'limited'`: not enough tokens, and no queue (or the queue could not serve it within `maxWait`);
 * - `'queue-full'`: the overflow queue for the key already holds `maxSize` waiters;
 * - `'timeout'`: it waited, and could not be served before its `maxWait` ran out;
 * - `'aborted'`: its `signal` was aborted (the client went away) before it was served;
 * - `'cost-exceeds-burst'`: its cost is larger than the bucket can ever hold;
 * - `'closed'`: the limiter was closed while the take was waiting or before it started;
 * - `'unavailable'`: the shared store cannot be reached and its policy is to refuse (`onUnavailable: 'closed'`);
 * - `'concurrency'`: the key already has its `concurrency` limit of requests in flight.
 */
export type RejectReason = 'limited' | 'queue-full' | 'timeout' | 'aborted' | 'cost-exceeds-burst' | 'closed' | 'unavailable' | 'concurrency';

/** The outcome of {@link Limiter.take}. */
export interface Decision {
  /** Whether the request may proceed. */
  readonly allowed: boolean;
  /** The key whose bucket was used. */
  readonly key: string;
  /** The tokens the take asked for. */
  readonly cost: number;
  /** The bucket's capacity (burst): the `q` of the `RateLimit-Policy` header. */
  readonly limit: number;
  /** Whole tokens left after this take. */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
  /** When rejected: milliseconds until a retry of the same cost can succeed (0 when allowed or never). */
  readonly retryAfterMs: number;
  /** Milliseconds this take spent in the overflow queue (0 when served at once). */
  readonly waitedMs: number;
  /** Why the take was rejected; absent when allowed. */
  readonly reason?: RejectReason;
  /** The policy that decided. */
  readonly policy: BucketPolicy;
  /** Set by a limiter in dry-run mode (`dryRun: true`): nothing is rejected or delayed. */
  readonly dryRun?: true;
  /** In dry-run mode: the reason this admitted take would have been rejected for. */
  readonly wouldReject?: RejectReason;
}

/** A decision that admits `cost` tokens, leaving `tokens` in the bucket. */
export function admittedDecision(policy: BucketPolicy, key: string, cost: number, tokens: number, waitedMs: number): Decision {
  return {
    allowed: true,
    key,
    cost,
    limit: policy.burst,
    remaining: Math.max(0, Math.floor(tokens + 1e-9)),
    resetMs: msUntilFull(tokens, policy),
    retryAfterMs: 0,
    waitedMs,
    policy,
  };
}

/** A decision that rejects a take of `cost` for `reason`, with `tokens` left in the bucket. */
export function rejectedDecision(
  policy: BucketPolicy,
  key: string,
  cost: number,
  tokens: number,
  reason: RejectReason,
  retryAfterMs: number,
  waitedMs: number,
): Decision {
  return {
    allowed: false,
    key,
    cost,
    limit: policy.burst,
    remaining: Math.max(0, Math.floor(tokens + 1e-9)),
    resetMs: msUntilFull(tokens, policy),
    retryAfterMs: Math.max(0, retryAfterMs),
    waitedMs,
    reason,
    policy,
  };
}

/**
 * A dry-run decision: admitted, with the bucket's figures, marked `dryRun`, and with the reason it
 * would have been rejected for (`wouldReject`) when it went over the limit.
 */
export function shadowDecision(policy: BucketPolicy, key: string, cost: number, tokens: number, wouldReject: RejectReason | undefined): Decision {
  const decision = admittedDecision(policy, key, cost, tokens, 0);
  return wouldReject === undefined ? { ...decision, dryRun: true } : { ...decision, dryRun: true, wouldReject };
}
