// Keeps one ZooKeeper watch per bucket whose queue holds waiters of this process, and hands them the bucket's shifts.

import type { Shift } from '../../reservation.js';
import type { BucketTarget } from './bucket-cas.js';
import { decodeBucket } from './bucket-codec.js';
import { WatchLoop } from './watch-loop.js';
import { ZkCode, zkCode } from './zookeeper-session.js';

/**
 * Follows the shifts of the buckets this process has waiters on: one `getData` watch per bucket
 * znode (an `exists` watch while it is missing), re-armed after it fires, after a failed read (every
 * 200 ms) and after a new session. A process watches only the buckets that decide its own waiters'
 * turns, and only while it has waiters there.
 */
export class ReservationWatch {
  private readonly loop = new WatchLoop<readonly Shift[]>({ retryMs: 200 });

  /** Starts following the bucket of `target` for `listener`; returns a function that stops it. */
  watch(target: BucketTarget, listener: (shifts: readonly Shift[]) => void): () => void {
    return this.loop.watch(target.path, (fired) => shiftsOf(target, fired), listener);
  }

  /** Arms every watch again: a new session has none of the old one's. */
  rearm(): void {
    this.loop.rearm();
  }

  /** The number of buckets watched. */
  get size(): number {
    return this.loop.size;
  }

  close(): void {
    this.loop.close();
  }
}

/** The shifts in the bucket znode, with a watch set on it (none when there is no bucket: reset, or never written). */
async function shiftsOf({ session, path }: BucketTarget, fired: () => void): Promise<readonly Shift[]> {
  try {
    return decodeBucket((await session.getData(path, fired)).data).ledger.shifts;
  } catch (error) {
    if (zkCode(error) !== ZkCode.NO_NODE) throw error;
    // Hear when it comes back; if it came back meanwhile, read it.
    if ((await session.exists(path, fired)) === null) return [];
    return decodeBucket((await session.getData(path, fired)).data).ledger.shifts;
  }
}
