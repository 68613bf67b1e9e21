// Keeps one ZooKeeper watch per bucket whose queue holds waiters of this process, and hands them the bucket's book.

import type { Book } from '../../reservation.js';
import { statZxid, type BucketTarget } from './bucket-cas.js';
import { decodeBucket } from './bucket-codec.js';
import { statTime } from './server-clock.js';
import { WatchLoop } from './watch-loop.js';
import { ZkCode, zkCode } from './zookeeper-session.js';

/**
 * Follows the books of the buckets this process has waiters on: one `getData` watch per bucket
 * znode (an `exists` watch while it is missing), re-armed after it fires, after a failed read (every
 * 200 ms) and after a new session. A process watches only the buckets that decide its own waiters'
 * turns, and only while it has waiters there.
 */
export class ReservationWatch {
  private readonly loop = new WatchLoop<WatchedBook>({ retryMs: 200 });

  /** Starts following the bucket of `target` for `listener`; returns a function that stops it. */
  watch(target: BucketTarget, listener: (book: WatchedBook) => void): () => void {
    return this.loop.watch(target.path, (fired) => bookOf(target, fired), listener);
  }

  /** Arms every watch again: a new session has none of the old one's. */
  rearm(): void {
    this.loop.rearm();
  }

  /** Whether the bucket of `target` is followed: this process has waiters booked in it. */
  watching(target: BucketTarget): boolean {
    return this.loop.has(target.path);
  }

  /** The number of buckets watched. */
  get size(): number {
    return this.loop.size;
  }

  close(): void {
    this.loop.close();
  }
}

/** A bucket's book as a watch read it: its tokens at `since` (server clock), and the zxid of the state. */
export interface WatchedBook {
  readonly tokens: number;
  readonly since: number;
  readonly book: Book;
  /** Orders the states of the bucket; -1 when there is no bucket (reset, or never written). */
  readonly zxid: number;
  /**
   * The shape the bucket refills by, as its last writer stored it (the policy in force at that
   * write): every process times its waiters by it, whatever policy it holds itself (absent: no
   * bucket, or none stored).
   */
  readonly shape?: { readonly burst: number; readonly ratePerMs: number };
}

/** The book in the bucket znode, with a watch set on it (an empty one when there is no bucket: reset, or never written). */
async function bookOf({ session, path, policy }: BucketTarget, fired: () => void): Promise<WatchedBook> {
  let reply;
  try {
    reply = await session.getData(path, fired);
  } catch (error) {
    if (zkCode(error) !== ZkCode.NO_NODE) throw error;
    // Hear when it comes back; if it came back meanwhile, read it.
    if ((await session.exists(path, fired)) === null) return { tokens: policy.burst, since: 0, book: { seq: 0, entries: [] }, zxid: -1 };
    reply = await session.getData(path, fired);
  }
  const data = decodeBucket(reply.data);
  const mtime = statTime(reply.stat.mtime);
  const since = data.at === undefined ? mtime : Math.min(mtime, data.at);
  const stored = Number.isFinite(data.burst) && data.burst > 0 && Number.isFinite(data.ratePerMs) && data.ratePerMs > 0;
  return { tokens: data.tokens, since, book: data.book, zxid: statZxid(reply.stat.mzxid), ...(stored && { shape: { burst: data.burst, ratePerMs: data.ratePerMs } }) };
}
