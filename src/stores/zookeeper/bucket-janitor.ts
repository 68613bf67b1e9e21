// Deletes bucket znodes that have been full for a while, whoever wrote them last (a stopped process too).

import { decodeBucket, storedTokensAt } from './bucket-codec.js';
import type { WriteCounter } from './bucket-cas.js';
import type { ServerClock } from './server-clock.js';
import { statTime } from './server-clock.js';
import { ZkCode, zkCode, type ZooKeeperSession } from './zookeeper-session.js';

/** Shard parents visited per pass: a full sweep of a limiter takes 256 / 32 = 8 passes. */
const SHARDS_PER_PASS = 32;

/**
 * Walks the bucket shards a few at a time and deletes, with a version-checked delete, every bucket
 * that has been full for `cleanupAfterMs` and has no waiters. A write since the read makes the
 * delete fail harmlessly. Processes delete their own idle buckets as they go; the janitor catches
 * the rest, such as the buckets of a process that stopped. One member runs it at a time.
 */
export class BucketJanitor {
  private cursor = 0;

  constructor(
    private readonly session: ZooKeeperSession,
    private readonly bucketsRoot: string,
    private readonly clock: ServerClock,
    private readonly cleanupAfterMs: number,
    private readonly counter: WriteCounter,
  ) {}

  /** Visits the next few shards of every limiter; returns how many buckets it deleted. */
  async pass(): Promise<number> {
    const limiters = await this.children(this.bucketsRoot);
    let deleted = 0;
    for (const limiter of limiters) {
      const shards = (await this.children(`${this.bucketsRoot}/${limiter}`)).sort();
      if (shards.length === 0) continue;
      const start = this.cursor % shards.length;
      for (const shard of shards.slice(start, start + SHARDS_PER_PASS)) {
        deleted += await this.sweepShard(`${this.bucketsRoot}/${limiter}/${shard}`);
      }
    }
    this.cursor += SHARDS_PER_PASS;
    return deleted;
  }

  private async sweepShard(shard: string): Promise<number> {
    let deleted = 0;
    for (const name of await this.children(shard)) {
      const path = `${shard}/${name}`;
      try {
        const { data, stat } = await this.session.getData(path);
        const bucket = decodeBucket(data);
        if (!Number.isFinite(bucket.burst) || !Number.isFinite(bucket.ratePerMs) || bucket.ratePerMs <= 0) continue;
        const now = this.clock.now();
        if (bucket.slots.some((slot) => slot.due > now)) continue;
        const mtime = statTime(stat.mtime);
        const since = bucket.at === undefined ? mtime : Math.min(mtime, bucket.at);
        const fullAt = since + Math.max(0, bucket.burst - bucket.tokens) / bucket.ratePerMs;
        if (storedTokensAt(bucket.tokens, since, now, bucket.burst, bucket.ratePerMs) < bucket.burst || now < fullAt + this.cleanupAfterMs) continue;
        this.counter.writes++;
        await this.session.remove(path, stat.version);
        deleted++;
      } catch (error) {
        // Written meanwhile (BAD_VERSION), already gone (NO_NODE), or not ours to read: leave it.
        const code = zkCode(error);
        if (code !== ZkCode.BAD_VERSION && code !== ZkCode.NO_NODE && !(error instanceof SyntaxError) && !(error instanceof Error && /did not write/.test(error.message))) throw error;
      }
    }
    return deleted;
  }

  private async children(path: string): Promise<string[]> {
    try {
      return await this.session.getChildren(path);
    } catch (error) {
      if (zkCode(error) === ZkCode.NO_NODE) return [];
      throw error;
    }
  }
}
