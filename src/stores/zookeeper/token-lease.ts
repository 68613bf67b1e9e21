// One process's lease on a shared bucket: tokens taken from ZooKeeper in a chunk and spent locally.

import type { BucketPolicy } from '../../policy.js';

/** The members together lease at most 1/this of a plentiful bucket's tokens beyond `leaseWindow`. */
const PLENTIFUL_SHARE_DIVISOR = 4;

/** The bucket figures a chunk size depends on. */
export type LeasePolicy = Pick<BucketPolicy, 'burst' | 'ratePerMs'>;

/** How much demand a chunk covers: normally `leaseMs`, up to `maxLeaseMs` while the bucket is plentiful. */
export interface LeaseWindows {
  readonly leaseMs: number;
  readonly maxLeaseMs: number;
}

/** Tokens per ms of recent demand, smoothed: sizes the next chunk. */
class DemandMeter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private windowTokens = 0;
  private ratePerMs = 0;

  constructor(private readonly windowMs: number) {}

  record(cost: number, now: number): void {
    if (now - this.windowStart >= this.windowMs) {
      const elapsed = Number.isFinite(this.windowStart) ? now - this.windowStart : this.windowMs;
      const observed = this.windowTokens / Math.max(this.windowMs, elapsed);
      this.ratePerMs = this.ratePerMs === 0 ? observed : 0.5 * this.ratePerMs + 0.5 * observed;
      this.windowStart = now;
      this.windowTokens = 0;
    }
    this.windowTokens += cost;
  }

  /**
   * Demand in tokens per ms: the smoothed rate, or the current window's if that is higher. The
   * current window counts as at least a quarter window long: one take just after it began is not
   * a surge.
   */
  perMs(now: number): number {
    const current = this.windowTokens / Math.max(this.windowMs / 4, now - this.windowStart);
    return Math.max(this.ratePerMs, Number.isFinite(current) ? current : 0);
  }
}

/**
 * The local side of a leased bucket. `tokens` were already taken from the shared bucket, so
 * spending them needs no ZooKeeper round trip and can never over-admit; unspent ones are given
 * back when the lease goes idle.
 */
export class TokenLease {
  /** Tokens held by this process, not yet spent. */
  tokens = 0;
  /** The chunk fetch in flight, if any: concurrent takes share it. */
  fetching: Promise<void> | undefined;
  /** The shared bucket's tokens at the last look, and the local clock reading then. */
  sharedTokens = 0;
  sharedAt = Number.NEGATIVE_INFINITY;
  /** Do not ask ZooKeeper again before this local clock reading: the shared bucket is short. */
  retryAt = Number.NEGATIVE_INFINITY;
  /** Local clock reading of the last take. */
  lastUsed: number;
  private readonly demand: DemandMeter;

  constructor(
    readonly policy: BucketPolicy,
    readonly key: string,
    now: number,
    leaseWindowMs: number,
  ) {
    this.lastUsed = now;
    this.demand = new DemandMeter(Math.max(50, leaseWindowMs));
  }

  /** Notes a take of `cost` at `now`. */
  recordDemand(cost: number, now: number): void {
    this.lastUsed = now;
    this.demand.record(cost, now);
  }

  /**
   * The chunk to ask for: about `windows.leaseMs` of this process's recent demand, at least `need`,
   * at most an equal share of the burst among the members (so one process cannot hoard the bucket).
   * While the shared bucket was plentiful at the last look, up to `windows.maxLeaseMs` of demand,
   * but the growth never more than 1/(4 x members) of the tokens it held: together the members then
   * lease about a quarter of them beyond their usual chunks (each member reckons from its own last
   * look), and a bucket that runs short shrinks the chunks back by itself.
   */
  chunkSize(need: number, policy: LeasePolicy, members: number, windows: LeaseWindows, now: number): number {
    const count = Math.max(1, members);
    const share = Math.max(1, policy.burst / count);
    const perMs = this.demand.perMs(now);
    let wanted = perMs * windows.leaseMs;
    if (windows.maxLeaseMs > windows.leaseMs && Number.isFinite(this.sharedAt)) {
      const spare = this.sharedEstimate(policy.ratePerMs, policy.burst, now) / (PLENTIFUL_SHARE_DIVISOR * count);
      wanted = Math.max(wanted, Math.min(perMs * windows.maxLeaseMs, spare));
    }
    return Math.max(need, Math.min(share, Math.max(1, wanted)));
  }

  /** The shared bucket's tokens now, extrapolated from the last look (an estimate: others spend too). */
  sharedEstimate(ratePerMs: number, burst: number, now: number): number {
    if (!Number.isFinite(this.sharedAt)) return burst;
    return Math.min(burst, this.sharedTokens + Math.max(0, now - this.sharedAt) * ratePerMs);
  }
}
