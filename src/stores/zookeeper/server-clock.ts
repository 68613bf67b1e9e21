// Estimates ZooKeeper's clock from the mtimes of this process's own writes; app-host wall clocks are never read.

import type { Clock } from '../../clock.js';

/** Decodes a Stat time (an 8-byte big-endian Buffer of epoch milliseconds) to a number. */
export function statTime(buffer: Buffer): number {
  return Number(buffer.readBigInt64BE(0));
}

/**
 * Server time, as ZooKeeper's leader stamps it on writes (`mtime`).
 *
 * A write's mtime was stamped between sending it and reading the reply, so `mtime - replyTime`
 * (on the local monotonic clock) is a lower bound of the offset between the two clocks. The
 * estimate uses the latest such bound, and never goes backwards: a leader change onto a server
 * whose clock is behind cannot bring tokens back.
 */
export class ServerClock {
  private offset: number | undefined;
  private highest = Number.NEGATIVE_INFINITY;

  constructor(private readonly local: Clock) {}

  /** Whether a write has been observed yet (before that, {@link now} is unknown). */
  get synced(): boolean {
    return this.offset !== undefined;
  }

  /** Records the mtime of a write whose reply arrived just now. */
  observeWrite(mtime: number): void {
    this.offset = mtime - this.local.now();
    this.highest = Math.max(this.highest, mtime);
  }

  /** Records an mtime seen in a read: the server's clock is at least there. */
  observeRead(mtime: number): void {
    this.highest = Math.max(this.highest, mtime);
    if (this.offset === undefined) this.offset = mtime - this.local.now();
  }

  /** The server's time now, as best known; never less than any mtime seen. */
  now(): number {
    const estimate = this.offset === undefined ? this.highest : this.local.now() + this.offset;
    this.highest = Math.max(this.highest, estimate);
    return this.highest;
  }
}
