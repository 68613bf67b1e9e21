// Estimates ZooKeeper's clock from the mtimes this process sees; app-host wall clocks are never read.

import type { Clock } from '../../clock.js';

/** Decodes a Stat time (an 8-byte big-endian Buffer of epoch milliseconds) to a number. */
export function statTime(buffer: Buffer): number {
  return Number(buffer.readBigInt64BE(0));
}

/**
 * How long (ms) an observed bound of the offset is kept. The tightest bound of the last one to two
 * such periods is used: long enough that one write's slow reply does not set the estimate, short
 * enough that a leader whose clock is behind is followed within seconds.
 */
export const BOUND_PERIOD_MS = 10_000;

/**
 * Server time, as ZooKeeper's leader stamps it on writes (`mtime`).
 *
 * An mtime was stamped before the reply that carries it was read, so `mtime - replyTime` (on the
 * local monotonic clock) is a lower bound of the offset between the two clocks: tight when the reply
 * came at once, loose by the round trip, the event loop's delay, or (for a read) the node's age.
 * The estimate is the tightest (largest) bound of the last one to two {@link BOUND_PERIOD_MS}, so
 * processes agree on server time to within their fastest round trips, which the queue's arrival
 * order needs; and it never goes backwards: a leader change onto a server whose clock is behind
 * cannot bring tokens back.
 */
export class ServerClock {
  /** The tightest bound of the current period, and of the one before. */
  private current: number | undefined;
  private previous: number | undefined;
  private periodStart = Number.NEGATIVE_INFINITY;
  private highest = Number.NEGATIVE_INFINITY;

  constructor(private readonly local: Clock) {}

  /** Whether an mtime has been observed yet (before that, {@link now} is unknown). */
  get synced(): boolean {
    return this.current !== undefined || this.previous !== undefined;
  }

  /** The server's time now, as best known; never less than any mtime seen. */
  now(): number {
    const offset = this.offset();
    const estimate = offset === undefined ? this.highest : this.local.now() + offset;
    this.highest = Math.max(this.highest, estimate);
    return this.highest;
  }

  /** Records an mtime carried by a reply (of a write or a read) read just now. */
  observe(mtime: number): void {
    const at = this.local.now();
    this.highest = Math.max(this.highest, mtime);
    if (at - this.periodStart >= BOUND_PERIOD_MS) {
      // After a quiet spell of two periods or more, the last period's bound is old: it is dropped.
      this.previous = at - this.periodStart < 2 * BOUND_PERIOD_MS ? this.current : undefined;
      this.current = undefined;
      this.periodStart = at;
    }
    const bound = mtime - at;
    if (this.current === undefined || bound > this.current) this.current = bound;
  }

  private offset(): number | undefined {
    if (this.current === undefined) return this.previous;
    if (this.previous === undefined) return this.current;
    return Math.max(this.current, this.previous);
  }
}
