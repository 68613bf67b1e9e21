// Reads the bucket znodes of one limiter (`<root>/buckets/<hash>/<shard>/<bucket>`), up to a cap, for `flowgate status`.

import type { Entry } from '../reservation.js';
import { decodeBucket } from '../stores/zookeeper/bucket-codec.js';
import { statTime } from '../stores/zookeeper/server-clock.js';
import { ZkCode, zkCode, type ZooKeeperSession } from '../stores/zookeeper/zookeeper-session.js';
import { mapConcurrently } from './concurrent-map.js';

/** ZooKeeper reads in flight at once during a scan. */
const READS_IN_FLIGHT = 32;
const SHARD = /^[0-9a-f]{2}$/;

/** One bucket as stored. */
export interface ScannedBucket {
  readonly key: string;
  /** Tokens at `since` (negative while waiters are owed tokens). */
  readonly tokens: number;
  /** The server time `tokens` refers to: the earlier of the writer's decision time and the znode's mtime. */
  readonly since: number;
  /** NaN when the writer did not record it. */
  readonly burst: number;
  readonly ratePerMs: number;
  /** The book of its waiters (see reservation.ts). */
  readonly entries: readonly Entry[];
}

/** What a scan found. */
export interface BucketScan {
  /** Bucket znodes that exist (all of them counted, read or not). */
  readonly total: number;
  /** The buckets read: at most the cap. */
  readonly buckets: readonly ScannedBucket[];
  /** Whether `total` exceeded the cap, so that some buckets were not read. */
  readonly capped: boolean;
  /** Znodes that did not hold flowgate bucket data. */
  readonly unreadable: number;
  /** The latest mtime among the buckets read (epoch ms), or -Infinity: ZooKeeper's clock was at least there. */
  readonly latestMtime: number;
}

/** Lists every shard of the limiter at `limiterPath`, then reads at most `cap` buckets. */
export async function scanBuckets(session: ZooKeeperSession, limiterPath: string, cap: number): Promise<BucketScan> {
  const shards = (await childrenOf(session, limiterPath)).filter((name) => SHARD.test(name)).sort();
  const listings = await mapConcurrently(shards, READS_IN_FLIGHT, async (shard) => (await childrenOf(session, `${limiterPath}/${shard}`)).map((name) => `${limiterPath}/${shard}/${name}`));
  const paths = listings.flat();
  const toRead = paths.slice(0, cap);
  let unreadable = 0;
  let latestMtime = Number.NEGATIVE_INFINITY;
  const read = await mapConcurrently(toRead, READS_IN_FLIGHT, async (path): Promise<ScannedBucket | undefined> => {
    let reply;
    try {
      reply = await session.getData(path);
    } catch (error) {
      if (zkCode(error) === ZkCode.NO_NODE) return undefined; // deleted meanwhile (reset, cleanup)
      throw error;
    }
    const mtime = statTime(reply.stat.mtime);
    latestMtime = Math.max(latestMtime, mtime);
    try {
      const data = decodeBucket(reply.data);
      return { key: data.key, tokens: data.tokens, since: data.at === undefined ? mtime : Math.min(mtime, data.at), burst: data.burst, ratePerMs: data.ratePerMs, entries: data.book.entries };
    } catch {
      unreadable++;
      return undefined;
    }
  });
  return { total: paths.length, buckets: read.filter((b): b is ScannedBucket => b !== undefined), capped: paths.length > cap, unreadable, latestMtime };
}

/** The children of `path`; none when it does not exist. */
export async function childrenOf(session: ZooKeeperSession, path: string): Promise<string[]> {
  try {
    return await session.getChildren(path);
  } catch (error) {
    if (zkCode(error) === ZkCode.NO_NODE) return [];
    throw error;
  }
}
