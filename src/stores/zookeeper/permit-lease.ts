// One process's share of a key's permits: claimed in ZooKeeper in chunks, handed out and taken back locally.

import type { ConcurrencyPolicy } from '../../concurrency/permit-store.js';

/**
 * The local side of a key's permits. `held` permits are claimed in the key's znode under this
 * process's name, so handing them to requests needs no ZooKeeper round trip and can never push the
 * cluster over the limit; a permit a request releases comes back here, ready for the next request.
 * Permits beyond what this process recently used, or beyond its fair share, are given back at the
 * next sweep.
 */
export class PermitLease {
  /** Permits claimed in ZooKeeper for this process, as it last wrote them. */
  held = 0;
  /** Claimed permits held by requests in flight. */
  inUse = 0;
  /** Claimed permits being given back: not to be handed out. */
  returning = 0;
  /** Requests in flight admitted by the local fallback while ZooKeeper was unreachable. */
  fallbackInUse = 0;
  /** The most claimed permits in use at once since the last sweep. */
  peak = 0;
  /** Acquires waiting for a claim to complete. */
  wanted = 0;
  /** Permits nobody held at the last look at the znode. */
  clusterFree: number;
  /** Until this local clock reading the key was seen full: refuse without asking ZooKeeper. */
  fullUntil = Number.NEGATIVE_INFINITY;
  /** The claim or give-back in flight, if any: one at a time per lease. */
  busy: Promise<void> | undefined;
  /** ZooKeeper may hold another count for this process (a write whose outcome is unknown): write `held` again. */
  dirty = false;

  constructor(
    readonly policy: ConcurrencyPolicy,
    readonly key: string,
    readonly path: string,
  ) {
    this.clusterFree = policy.max;
  }

  /** Claimed permits ready for a request. */
  get free(): number {
    return this.held - this.inUse - this.returning;
  }

  /** Hands one claimed permit to a request. */
  take(): void {
    this.inUse++;
    if (this.inUse > this.peak) this.peak = this.inUse;
  }

  /**
   * How many permits to hold in all when more are needed: the current ones plus a chunk of about
   * half an equal share among the members (at least 1, at least the acquires waiting), so that a
   * process rarely asks twice in a row and never grabs most of the limit at once.
   */
  wantedHeld(members: number): number {
    const chunk = Math.max(1, Math.floor(this.policy.max / (2 * Math.max(1, members))));
    return this.held + Math.max(chunk, this.wanted);
  }

  /**
   * How many permits to keep at a sweep: those in use, and idle ones up to the recent peak but
   * no more than an equal share among the members (the rest go back to the other processes).
   */
  keep(members: number): number {
    const share = Math.max(1, Math.ceil(this.policy.max / Math.max(1, members)));
    return Math.max(this.inUse, Math.min(this.peak, share));
  }

  /** Nothing held, in use, pending or owed: the lease can be forgotten. */
  get idle(): boolean {
    return this.held === 0 && this.inUse === 0 && this.fallbackInUse === 0 && this.wanted === 0 && !this.dirty && this.busy === undefined;
  }
}
