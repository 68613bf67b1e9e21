// One process's share of a key's permits: claimed in ZooKeeper in chunks, handed out and taken back locally.

import type { ConcurrencyPolicy } from '../../concurrency/permit-store.js';

/**
 * The local side of a key's permits. `held` permits are claimed in the key's znode under this
 * process's name, so handing them to requests needs no ZooKeeper round trip and can never push the
 * cluster over the limit; a permit a request releases comes back here, ready for the next request.
 * Permits beyond what this process recently used are given back at the next sweep. While another
 * process waits for a permit (`contended`), this one hands out no more than its fair share, claims
 * no more, and gives back every permit beyond its share as soon as a request releases it.
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
  /** This process is listed as waiting in the znode (it was refused for lack of a free permit). */
  wanting = false;
  /** An acquire was refused since the last sweep. */
  refused = false;
  /** Until this local clock reading, another process was seen waiting: share fairly. */
  contendedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    readonly policy: ConcurrencyPolicy,
    readonly key: string,
    readonly path: string,
  ) {
    this.clusterFree = policy.max;
  }

  /**
   * Claimed permits ready for a request. Requests the local fallback admitted while ZooKeeper was
   * unreachable still count once it is back: claimed permits cover them first.
   */
  get free(): number {
    return this.held - this.inUse - this.fallbackInUse - this.returning;
  }

  /** An equal share of the limit among the members (at least 1). */
  share(members: number): number {
    return Math.max(1, Math.ceil(this.policy.max / Math.max(1, members)));
  }

  /** Whether another process was seen waiting recently. */
  contended(now: number): boolean {
    return now < this.contendedUntil;
  }

  /** Whether a claimed permit may go to a request now: one is free, and, while others wait, this process is under its share. */
  canHandOut(members: number, now: number): boolean {
    return this.free >= 1 && (!this.contended(now) || this.inUse < this.share(members));
  }

  /** Hands one claimed permit to a request. */
  take(): void {
    this.inUse++;
    if (this.inUse > this.peak) this.peak = this.inUse;
  }

  /**
   * How many permits to hold in all when more are needed: the current ones plus a chunk of about
   * half an equal share among the members (at least 1, at least the acquires waiting), so that a
   * process rarely asks twice in a row and never grabs most of the limit at once. While others
   * wait, no more than the share.
   */
  wantedHeld(members: number, now: number): number {
    const chunk = Math.max(1, Math.floor(this.policy.max / (2 * Math.max(1, members))));
    const wanted = Math.max(this.held, this.inUse + this.fallbackInUse) + Math.max(chunk, this.wanted);
    return this.contended(now) ? Math.min(wanted, Math.max(this.held, this.share(members))) : wanted;
  }

  /**
   * How many permits to keep at a sweep: those in use, and idle ones up to the recent peak (but
   * no more than the share while others wait); the rest go back to the other processes.
   */
  keep(members: number, now: number): number {
    const peak = this.contended(now) ? Math.min(this.peak, this.share(members)) : this.peak;
    return Math.max(this.inUse + this.fallbackInUse, peak);
  }

  /** While others wait: the idle permits beyond this process's share, to give back now. */
  surplus(members: number, now: number): number {
    if (!this.contended(now)) return 0;
    return Math.max(0, this.held - this.returning - Math.max(this.inUse + this.fallbackInUse, this.share(members)));
  }

  /** Nothing held, in use, pending or owed: the lease can be forgotten. */
  get idle(): boolean {
    return this.held === 0 && this.inUse === 0 && this.fallbackInUse === 0 && this.wanted === 0 && !this.dirty && !this.wanting && this.busy === undefined;
  }
}
