// Deletes bucket znodes that have been full for a while, whoever wrote them last (a stopped process too).

import type { Stat } from 'node-zookeeper-client';
import { decodeBucket, storedTokensAt } from './bucket-codec.js';
import type { WriteCounter } from './bucket-cas.js';
import type { ServerClock } from './server-clock.js';
import { statTime } from './server-clock.js';
import { ShardJanitor } from './shard-janitor.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/**
 * The janitor of bucket znodes: deletes every bucket that has been full for `cleanupAfterMs` and
 * has no waiters. Processes delete their own idle buckets as they go; the janitor catches the rest,
 * such as the buckets of a process that stopped.
 */
export function bucketJanitor(session: ZooKeeperSession, bucketsRoot: string, clock: ServerClock, cleanupAfterMs: number, counter: WriteCounter): ShardJanitor {
  return new ShardJanitor(session, bucketsRoot, (_path, data, stat) => bucketIdleFor(data, stat, clock.now(), cleanupAfterMs), counter);
}

/** Whether a bucket has been full, with nobody waiting, for `cleanupAfterMs` at server time `now`. */
export function bucketIdleFor(data: Buffer | undefined, stat: Stat, now: number, cleanupAfterMs: number): boolean {
  const bucket = decodeBucket(data);
  if (!Number.isFinite(bucket.burst) || !Number.isFinite(bucket.ratePerMs) || bucket.ratePerMs <= 0) return false;
  const mtime = statTime(stat.mtime);
  const since = bucket.at === undefined ? mtime : Math.min(mtime, bucket.at);
  // A full bucket owes nobody: its debt (waiters' tokens) is paid before it fills again.
  const fullAt = since + Math.max(0, bucket.burst - bucket.tokens) / bucket.ratePerMs;
  return storedTokensAt(bucket.tokens, since, now, bucket.burst, bucket.ratePerMs) >= bucket.burst && now >= fullAt + cleanupAfterMs;
}
