// One version-checked read-modify-write of a bucket znode, with refill computed on ZooKeeper's clock.

import type { ACL } from 'node-zookeeper-client';
import type { BucketPolicy } from '../../policy.js';
import { EMPTY_BOOK, prunedBook, type Book } from '../../reservation.js';
import { decodeBucket, encodeBucket, storedTokensAt } from './bucket-codec.js';
import { ServerClock, statTime } from './server-clock.js';
import { failedOpIndex, ZkCode, ZooKeeperSession, zkCode } from './zookeeper-session.js';

/** Every compare-and-set attempt on a bucket lost its race: ZooKeeper answers, the bucket is just hot. */
export class BucketContentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BucketContentionError';
  }
}

/** What one update saw and did. */
export interface BucketUpdate {
  /** Tokens in the shared bucket before the change (refilled to server time now). */
  readonly before: number;
  /** Tokens after the change (equal to `before` when nothing was written). */
  readonly after: number;
  /** Whether a change was written. */
  readonly wrote: boolean;
  /** The znode version after the write (for a version-checked delete later). */
  readonly version: number;
  /** Server time of the decision. */
  readonly serverNow: number;
  /** The waiters' book after the change. */
  readonly book: Book;
  /** Orders the states of this bucket (the znode's mzxid; 0 when it was just created). */
  readonly zxid: number;
}

/** A bucket as `decide` sees it: tokens refilled to server time now (negative while waiters are owed). */
export interface BucketView {
  readonly tokens: number;
  /** The waiters' book, without the entries already paid. */
  readonly book: Book;
  readonly serverNow: number;
}

/** A change to write: new tokens, and a new book (the old one, pruned, when omitted). */
export interface BucketChange {
  readonly tokens: number;
  readonly book?: Book;
}

/** The figures of a policy a bucket's state depends on: its capacity and refill rate (tokens per ms). */
export type BucketShape = Pick<BucketPolicy, 'burst' | 'ratePerMs'>;

/** Where a bucket lives and how to reach it. */
export interface BucketTarget {
  readonly session: ZooKeeperSession;
  readonly clock: ServerClock;
  readonly acls: ACL[] | undefined;
  readonly policy: BucketShape;
  readonly key: string;
  readonly path: string;
  /** Counts writes and lost races, for the benchmark's writes-per-request figure. */
  readonly counter: WriteCounter;
}

/** ZooKeeper writes made by one store, and compare-and-set races it lost. */
export interface WriteCounter {
  writes: number;
  conflicts: number;
}

const PERSISTENT = 0;
const MAX_ATTEMPTS = 50;

/**
 * Reads the bucket, lets `decide` pick the new state from the state now (or `undefined` to write
 * nothing), and writes it only if nobody wrote in between (`setData` with the version read; a lost
 * race reads again). `decide` may return just a token count: the waiters' book is then kept.
 * Refill is computed from the znode's `mtime`, ZooKeeper's clock. A missing znode is a full
 * bucket; a full bucket with no waiters is never created.
 */
export async function updateBucket(target: BucketTarget, decide: (view: BucketView) => number | BucketChange | undefined): Promise<BucketUpdate> {
  const { session, clock, policy, path } = target;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await readBucket(target);
    const serverNow = clock.now();
    const before = current === undefined ? policy.burst : storedTokensAt(current.tokens, current.since, serverNow, policy.burst, refillRate(current, policy));
    const bookBefore = current === undefined ? EMPTY_BOOK : prunedBook(current.book, before, serverNow, policy.ratePerMs);
    const decided = decide({ tokens: before, book: bookBefore, serverNow });
    const change = typeof decided === 'number' ? { tokens: decided, book: bookBefore } : decided;
    if (change === undefined || (current === undefined && change.tokens >= policy.burst && (change.book?.entries ?? []).length === 0)) {
      return { before, after: before, wrote: false, version: current?.version ?? -1, serverNow, book: bookBefore, zxid: current?.zxid ?? 0 };
    }
    const after = Math.min(policy.burst, change.tokens);
    const book = change.book ?? bookBefore;
    const data = encodeBucket({ tokens: after, at: serverNow, key: target.key, book, burst: policy.burst, ratePerMs: policy.ratePerMs });
    try {
      target.counter.writes++;
      if (current !== undefined) {
        const stat = await session.setData(path, data, current.version);
        clock.observe(statTime(stat.mtime));
        return { before, after, wrote: true, version: stat.version, serverNow, book, zxid: statZxid(stat.mzxid) };
      }
      await createBucket(target, data);
      return { before, after, wrote: true, version: 0, serverNow, book, zxid: 0 };
    } catch (error) {
      const code = zkCode(error);
      if (code !== ZkCode.BAD_VERSION && code !== ZkCode.NODE_EXISTS && code !== ZkCode.NO_NODE) throw error;
      target.counter.conflicts++;
      // Lost a race with another process: back off a little, with jitter, and read again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(20, 3 * (attempt + 1))));
    }
  }
  throw new BucketContentionError(`flowgate: too much contention on ${path}: ${MAX_ATTEMPTS} compare-and-set attempts lost`);
}

/** What {@link resetBucket} found and did. */
export interface BucketReset {
  /** Whether the key had a bucket znode (false: it was full already, with nobody waiting). */
  readonly existed: boolean;
  /** Tokens it held just before (refilled to server time; negative while waiters were owed). */
  readonly tokensBefore: number;
  /** Waiters left in its book, now paid from the full burst first (0: the znode was removed). */
  readonly waiting: number;
}

/**
 * Makes a bucket full again for the whole cluster. With nobody in its book, its znode is removed
 * (version-checked: a missing znode is a full bucket). With waiters booked, the znode stays and
 * their unpaid debt is forgiven and the full burst is added on top of what the refill has paid
 * them: the book pays its front from it, in its order (waiters paid already and held by their
 * order grace keep their tokens). So the waiters are served at once as far as the burst
 * goes (their processes watch the book and time them again), the rest wait for less, and takes
 * that come next queue behind them rather than going ahead with the new tokens.
 */
export async function resetBucket(target: BucketTarget): Promise<BucketReset> {
  const { policy } = target;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let waiting = 0;
    const update = await updateBucket(target, ({ tokens, book }) => {
      waiting = 0;
      if (book.entries.length === 0) return undefined;
      for (const entry of book.entries) waiting += entry.count;
      // The unpaid debt (-tokens) is forgiven and the burst comes on top of what is paid: entries
      // paid and held in their order grace keep their tokens, the burst goes to the unpaid ones.
      return { tokens: policy.burst + Math.min(0, tokens), book };
    });
    if (update.wrote) return { existed: true, tokensBefore: update.before, waiting };
    if (update.version < 0) {
      // Not there, or not there yet on the server this session reads from (a bucket written just
      // before through another server): only a write-path check can tell, and it brings this
      // session's server up to date for the next read.
      if (!(await existsAtLeader(target.session, target.path))) return { existed: false, tokensBefore: policy.burst, waiting: 0 };
      continue;
    }
    try {
      target.counter.writes++;
      await target.session.remove(target.path, update.version);
      return { existed: true, tokensBefore: update.before, waiting: 0 };
    } catch (error) {
      const code = zkCode(error);
      if (code === ZkCode.NO_NODE) return { existed: false, tokensBefore: policy.burst, waiting: 0 };
      if (code !== ZkCode.BAD_VERSION) throw error;
      target.counter.conflicts++;
    }
  }
  throw new BucketContentionError(`flowgate: too much contention on ${target.path}: ${MAX_ATTEMPTS} attempts to reset it lost their race`);
}

/**
 * Whether `path` exists, asked through ZooKeeper's leader (a multi of one version check): unlike a
 * read, it cannot be answered from a server that has not applied the latest writes yet, and once
 * it is answered, this session's reads see at least those writes.
 */
export async function existsAtLeader(session: ZooKeeperSession, path: string): Promise<boolean> {
  try {
    await session.transaction([{ op: 'check', path, version: -1 }]);
    return true;
  } catch (error) {
    if (zkCode(error) === ZkCode.NO_NODE) return false;
    throw error;
  }
}

interface StoredBucket {
  readonly tokens: number;
  readonly book: Book;
  readonly mtime: number;
  /** The server time its tokens refer to: the writer's decision time, never after the write. */
  readonly since: number;
  readonly version: number;
  /** The zxid of its last change (orders the states of the bucket). */
  readonly zxid: number;
  /** The refill rate (tokens per ms) of the policy its last writer was under; NaN when the data has none. */
  readonly ratePerMs: number;
}

/**
 * The rate a stored bucket refills at since its last write: the one that write was made under, so
 * that after a live policy change the time before the next write counts at the old rate (as a
 * store that settles at the change does); the policy's own when the data records none.
 */
export function refillRate(stored: { readonly ratePerMs: number }, policy: BucketShape): number {
  return Number.isFinite(stored.ratePerMs) && stored.ratePerMs > 0 ? stored.ratePerMs : policy.ratePerMs;
}

/** Decodes a Stat zxid (an 8-byte big-endian Buffer) to a number. */
export function statZxid(buffer: Buffer): number {
  return Number(buffer.readBigInt64BE(0));
}

/** Reads a bucket znode, or `undefined` when there is none. */
export async function readBucket(target: BucketTarget): Promise<StoredBucket | undefined> {
  let reply;
  try {
    reply = await target.session.getData(target.path);
  } catch (error) {
    if (zkCode(error) === ZkCode.NO_NODE) return undefined;
    throw error;
  }
  const data = decodeBucket(reply.data);
  if (data.key !== target.key) throw new Error(`flowgate: two keys hash to the same znode ${target.path}`);
  const mtime = statTime(reply.stat.mtime);
  target.clock.observe(mtime);
  const since = data.at === undefined ? mtime : Math.min(mtime, data.at);
  return { tokens: data.tokens, book: data.book, mtime, since, version: reply.stat.version, zxid: statZxid(reply.stat.mzxid), ratePerMs: data.ratePerMs };
}

/**
 * Creates a bucket znode, creating its shard parent when it is missing. A limiter's first keys land
 * in shards not made yet (up to 256 of them): parent and bucket are then made in one multi (one
 * round trip, where a `mkdirp` makes one per level). Only when the levels above are missing too (a
 * new limiter or root) does it fall back to `mkdirp`. A `NODE_EXISTS` on the bucket itself is a
 * lost race, for the caller to read again.
 */
async function createBucket(target: BucketTarget, data: Buffer): Promise<void> {
  const { session, path, acls } = target;
  try {
    await session.create(path, data, PERSISTENT, acls);
    return;
  } catch (error) {
    if (zkCode(error) !== ZkCode.NO_NODE) throw error;
  }
  const parent = path.slice(0, path.lastIndexOf('/'));
  try {
    await session.transaction([
      { op: 'create', path: parent, data: Buffer.alloc(0), mode: PERSISTENT, ...(acls && { acls }) },
      { op: 'create', path, data, mode: PERSISTENT, ...(acls && { acls }) },
    ]);
    return;
  } catch (error) {
    const code = zkCode(error);
    // Another process made the shard meanwhile: the bucket alone is left to create.
    if (code === ZkCode.NODE_EXISTS && failedOpIndex(error) === 0) {
      await session.create(path, data, PERSISTENT, acls);
      return;
    }
    if (code !== ZkCode.NO_NODE) throw error;
  }
  await session.mkdirp(parent, acls);
  await session.create(path, data, PERSISTENT, acls);
}
