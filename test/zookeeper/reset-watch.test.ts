// Issue 3: a process that holds back on a short bucket sees a reset made elsewhere (its znode
// deleted) at once, by a watch on the znode: also when the reset lands between the read that found
// the bucket short and the watch, which then finds no znode at all.

import { createLimiter, ZooKeeperStore } from '../../src/index.js';
import type { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';
import { ZnodePaths } from '../../src/stores/zookeeper/znode-paths.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from './helpers/cluster.js';
import { RawClient } from './helpers/raw-client.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-reset-watch', 27690, 'resetwatch');

/** A strict limiter of 5 an hour on its own store, and a second client that resets its buckets; closed after `run`. */
async function withStrictLimiter(run: (ctx: { limiter: ReturnType<typeof createLimiter>; session: ZooKeeperSession; raw: RawClient; bucket(key: string): string }) => Promise<void>): Promise<void> {
  const store = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  const limiter = createLimiter({ name: 'login', rate: 5, interval: '1h', burst: 5, strict: true, store });
  const raw = await RawClient.connect(zk.connect);
  const paths = new ZnodePaths(zk.root);
  try {
    await store.ready(10_000);
    const session = (store as unknown as { session: ZooKeeperSession }).session;
    await run({ limiter, session, raw, bucket: (key) => paths.bucket('login', key) });
  } finally {
    raw.close();
    await limiter.close();
    await store.close();
  }
}

describe('a bucket reset elsewhere ends holding back at once (strict mode, refill 1 token in 12 minutes)', () => {
  test('reset after the watch was set: the deletion is seen', async () => {
    await withStrictLimiter(async ({ limiter, raw, bucket }) => {
      expect((await limiter.take('alice', { cost: 5 })).allowed).toBe(true);
      expect((await limiter.take('alice')).allowed).toBe(false);
      await raw.remove(bucket('alice'));
      await waitFor(async () => (await limiter.take('alice')).allowed, 5_000, 'alice admitted again after the reset', 50);
    });
  });

  test('reset between the read that found the bucket short and the watch: the watch finds no znode, and that counts as the reset', async () => {
    await withStrictLimiter(async ({ limiter, session, raw, bucket }) => {
      const path = bucket('bob');
      expect((await limiter.take('bob', { cost: 5 })).allowed).toBe(true);
      // The next refusal sets the watch: the reset lands just before it reaches the server.
      const exists = session.exists.bind(session);
      let resetBeforeWatch = 0;
      session.exists = async (target, watcher) => {
        if (target === path && watcher !== undefined && resetBeforeWatch === 0) {
          resetBeforeWatch++;
          await raw.remove(path);
        }
        return exists(target, watcher);
      };
      expect((await limiter.take('bob')).allowed).toBe(false);
      await waitFor(() => resetBeforeWatch === 1, 5_000, 'the watch to be set');
      // The previous code read the missing znode as "nothing to watch for" and held back until the
      // refill it expected (12 minutes): every take in between was refused without asking ZooKeeper.
      await waitFor(async () => (await limiter.take('bob')).allowed, 5_000, 'bob admitted again after the reset', 50);
      expect(resetBeforeWatch).toBe(1);
    });
  });
});

test('a reset that keeps a book of waiters (it rewrites the znode) also ends holding back: the strict process admits from what the burst leaves', async () => {
  // A strict limiter without a queue here, and the same limiter with a queue in another process.
  await withStrictLimiter(async ({ limiter }) => {
    const queued = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
    const withQueue = createLimiter({ name: 'login', rate: 5, interval: '1h', burst: 5, queue: { maxSize: 10, maxWait: '1h' }, store: queued });
    try {
      await queued.ready(10_000);
      expect((await withQueue.take('carol', { cost: 5 })).allowed).toBe(true);
      // Two waiters booked (12 and 24 minutes away), and the strict process refused: it holds back.
      const waiters = [withQueue.take('carol'), withQueue.take('carol')];
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await limiter.take('carol')).allowed).toBe(false);
      await withQueue.reset('carol');
      // The burst pays the two waiters; 3 tokens are left for the strict process, which sees the
      // rewrite at once. Before, only a deleted znode ended its holding back: it refused for 12 minutes.
      expect((await Promise.all(waiters)).every((d) => d.allowed)).toBe(true);
      await waitFor(async () => (await limiter.take('carol')).allowed, 5_000, 'the strict process to admit after the reset', 50);
    } finally {
      await withQueue.close();
      await queued.close();
    }
  });
});
