// Reads the DistributedQueues under `<root>/queues/<hash>`: item counts (one exists() each) and the head item's age.

import { statTime } from '../stores/zookeeper/server-clock.js';
import { ZkCode, zkCode, type ZooKeeperSession } from '../stores/zookeeper/zookeeper-session.js';
import { childrenOf } from './bucket-scan.js';
import { mapConcurrently } from './concurrent-map.js';

/** One DistributedQueue as stored. */
export interface QueueNodes {
  /** The queue's name, when its node holds `{"v":1,"name":...}`; null otherwise. */
  readonly name: string | null;
  /** The queue node's name: base64url SHA-256 of the queue's name. */
  readonly hash: string;
  /** Items waiting or in a consumer's hands. */
  readonly items: number;
  /** Items a consumer holds right now (claims). */
  readonly inProgress: number;
  /** Dead letters. */
  readonly dead: number;
  /** Creation time of the oldest item (ZooKeeper's clock, epoch ms), or null when empty. */
  readonly oldestCreatedAt: number | null;
}

/** The queues, and the latest ZooKeeper time seen on their items. */
export interface QueueList {
  readonly queues: QueueNodes[];
  readonly latestMtime: number;
}

/** Reads every queue under `parent`, sorted by name (then hash). */
export async function readQueues(session: ZooKeeperSession, parent: string): Promise<QueueList> {
  const hashes = await childrenOf(session, parent);
  let latestMtime = Number.NEGATIVE_INFINITY;
  const queues = await mapConcurrently(hashes, 8, async (hash): Promise<QueueNodes> => {
    const base = `${parent}/${hash}`;
    const [name, items, inProgress, dead] = await Promise.all([queueName(session, base), childCount(session, `${base}/items`), childCount(session, `${base}/claims`), childCount(session, `${base}/dead`)]);
    let oldestCreatedAt: number | null = null;
    if (items > 0) {
      const head = bySequence(await childrenOf(session, `${base}/items`))[0];
      const stat = head === undefined ? null : await session.exists(`${base}/items/${head}`);
      if (stat !== null) {
        oldestCreatedAt = statTime(stat.ctime);
        latestMtime = Math.max(latestMtime, statTime(stat.mtime));
      }
    }
    return { name, hash, items, inProgress, dead, oldestCreatedAt };
  });
  queues.sort((a, b) => (a.name ?? '\uffff').localeCompare(b.name ?? '\uffff') || a.hash.localeCompare(b.hash));
  return { queues, latestMtime };
}

/** Item names in queue order: by their 10-digit sequence suffix (the UUID prefix says nothing about order). */
function bySequence(names: string[]): string[] {
  return [...names].sort((a, b) => a.slice(-10).localeCompare(b.slice(-10)));
}

async function childCount(session: ZooKeeperSession, path: string): Promise<number> {
  return (await session.exists(path))?.numChildren ?? 0;
}

async function queueName(session: ZooKeeperSession, path: string): Promise<string | null> {
  let data: Buffer | undefined;
  try {
    data = (await session.getData(path)).data;
  } catch (error) {
    if (zkCode(error) === ZkCode.NO_NODE) return null;
    throw error;
  }
  try {
    const parsed = JSON.parse((data ?? Buffer.alloc(0)).toString('utf8')) as { name?: unknown } | null;
    return typeof parsed?.name === 'string' ? parsed.name : null;
  } catch {
    return null; // no data: written by a flowgate that did not record the name
  }
}
