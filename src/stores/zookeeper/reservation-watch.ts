// Keeps one ZooKeeper watch per bucket whose queue holds waiters of this process, and hands them the bucket's shifts.

import type { Shift } from '../../reservation.js';
import type { BucketTarget } from './bucket-cas.js';
import { decodeBucket } from './bucket-codec.js';
import { ZkCode, zkCode } from './zookeeper-session.js';

interface Watched {
  readonly target: BucketTarget;
  readonly listeners: Set<(shifts: readonly Shift[]) => void>;
  /** Bumped on every arm: a watcher from an older arm is stale and does nothing when it fires. */
  generation: number;
  retry: ReturnType<typeof setTimeout> | undefined;
}

/** How long to wait before reading again after a failed read (ms). */
const RETRY_MS = 200;

/**
 * Follows the shifts of the buckets this process has waiters on: one `getData` watch per bucket
 * znode (an `exists` watch while it is missing), re-armed after it fires, after a failed read and
 * after a new session. A process watches only the buckets that decide its own waiters' turns, and
 * only while it has waiters there.
 */
export class ReservationWatch {
  private readonly watched = new Map<string, Watched>();
  private closed = false;

  /** Starts following the bucket of `target` for `listener`; returns a function that stops it. */
  watch(target: BucketTarget, listener: (shifts: readonly Shift[]) => void): () => void {
    let entry = this.watched.get(target.path);
    if (entry === undefined) {
      entry = { target, listeners: new Set(), generation: 0, retry: undefined };
      this.watched.set(target.path, entry);
      void this.arm(entry);
    }
    entry.listeners.add(listener);
    const watched = entry;
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.watched.get(target.path) === watched) {
        this.watched.delete(target.path);
        watched.generation++;
        if (watched.retry !== undefined) clearTimeout(watched.retry);
      }
    };
  }

  /** Arms every watch again: a new session has none of the old one's. */
  rearm(): void {
    for (const entry of this.watched.values()) void this.arm(entry);
  }

  /** The number of buckets watched (for tests and stats). */
  get size(): number {
    return this.watched.size;
  }

  close(): void {
    this.closed = true;
    for (const entry of this.watched.values()) {
      entry.generation++;
      if (entry.retry !== undefined) clearTimeout(entry.retry);
    }
    this.watched.clear();
  }

  private async arm(entry: Watched): Promise<void> {
    if (this.closed || this.watched.get(entry.target.path) !== entry) return;
    const generation = ++entry.generation;
    if (entry.retry !== undefined) clearTimeout(entry.retry);
    entry.retry = undefined;
    const fired = (): void => {
      if (entry.generation === generation) void this.arm(entry);
    };
    const { session, path } = entry.target;
    try {
      let shifts: readonly Shift[] = [];
      try {
        const reply = await session.getData(path, fired);
        shifts = decodeBucket(reply.data).ledger.shifts;
      } catch (error) {
        if (zkCode(error) !== ZkCode.NO_NODE) throw error;
        // No bucket (reset, or never written): no shifts; hear when it comes back.
        if ((await session.exists(path, fired)) !== null) return this.arm(entry);
      }
      if (entry.generation !== generation) return;
      for (const listener of [...entry.listeners]) listener(shifts);
    } catch {
      if (entry.generation !== generation || this.closed) return;
      entry.retry = setTimeout(() => void this.arm(entry), RETRY_MS);
      entry.retry.unref();
    }
  }
}
