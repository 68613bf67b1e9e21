// A limiter's bucket policy, as stores see it: name, rate, interval and burst, already validated.

import type { BucketShape } from './token-bucket.js';

/** The validated bucket policy of one limiter. Stores keep one bucket per (policy name, key). */
export interface BucketPolicy extends BucketShape {
  /** The limiter's name: the namespace of its buckets in a store, and the policy name in headers. */
  readonly name: string;
  /** Tokens added per interval. */
  readonly rate: number;
  /** The refill interval in milliseconds. */
  readonly intervalMs: number;
  /** Capacity in tokens. */
  readonly burst: number;
  /** Tokens per millisecond (`rate / intervalMs`). */
  readonly ratePerMs: number;
  /** Every take is one atomic update of the shared bucket (no leased chunks): exact, for low rates. */
  readonly strict: boolean;
}

/** Builds a {@link BucketPolicy} from already-validated figures. */
export function bucketPolicy(name: string, rate: number, intervalMs: number, burst: number, strict = false): BucketPolicy {
  return Object.freeze({ name, rate, intervalMs, burst, ratePerMs: rate / intervalMs, strict });
}
