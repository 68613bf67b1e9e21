// Walks `<kind>/<limiter>/<shard>/<node>` znodes a few shards at a time and deletes those a verdict calls stale.

import type { Stat } from 'node-zookeeper-client';
import type { WriteCounter } from './bucket-cas.js';
import { ZkCode, zkCode, type ZooKeeperSession } from './zookeeper-session.js';

/** Shard parents visited per limiter per pass: a full sweep of a limiter takes 256 / 32 = 8 passes. */
const SHARDS_PER_PASS = 32;

/** Whether the znode at `path` (its data and stat just read) is stale and may go (a version-checked delete follows). */
export type StaleVerdict = (path: string, data: Buffer | undefined, stat: Stat) => Promise<boolean> | boolean;

/**
 * Visits the shards under `kindRoot` (`<root>/buckets` or `<root>/permits`) a few at a time and
 * deletes, with a version-checked delete, every znode `isStale` condemns. A write since the read
 * makes the delete fail harmlessly, and so does a znode that is gone or holds data flowgate did not
 * write. One member runs it at a time (the store decides which).
 */
export class ShardJanitor {
  private cursor = 0;

  constructor(
    private readonly session: ZooKeeperSession,
    private readonly kindRoot: string,
    private readonly isStale: StaleVerdict,
    private readonly counter: WriteCounter,
  ) {}

  /** Visits the next few shards of every limiter; returns how many znodes it deleted. */
  async pass(): Promise<number> {
    const limiters = await this.children(this.kindRoot);
    let deleted = 0;
    for (const limiter of limiters) {
      const shards = (await this.children(`${this.kindRoot}/${limiter}`)).sort();
      if (shards.length === 0) continue;
      const start = this.cursor % shards.length;
      for (const shard of shards.slice(start, start + SHARDS_PER_PASS)) {
        deleted += await this.sweepShard(`${this.kindRoot}/${limiter}/${shard}`);
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
        if (!(await this.isStale(path, data, stat))) continue;
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
