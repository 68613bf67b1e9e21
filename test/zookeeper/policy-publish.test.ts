// Publishing a policy through the ZooKeeper store: what setPolicy publishes matches what the memory
// store applies (queue bounds left out come from the limiter's own queue), a process's own publish
// never takes its limiters back to an older version than its watch already delivered, and a limiter
// made after a change decides its first takes by the published policy.

import { createLimiter, ZooKeeperStore } from '../../src/index.js';
import type { VersionedPolicy } from '../../src/policy-update.js';
import type { PolicyRegistry } from '../../src/stores/zookeeper/policy-registry.js';
import { PolicyWatch } from '../../src/stores/zookeeper/policy-watch.js';
import { standaloneForFile } from './helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-policy-publish', 27890, 'policy-publish');

test('a queue bound left out of setPolicy comes from the limiter own queue, as with the memory store', async () => {
  const options = { name: 'own-queue', rate: 5, burst: 5, queue: { maxSize: 5, maxWait: '2s' } } as const;
  const memory = createLimiter(options);
  const store = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  const shared = createLimiter({ ...options, store });
  try {
    await store.ready(20_000);
    const local = await memory.setPolicy({ queue: { maxSize: 10 } });
    expect(local.queue).toEqual({ maxSize: 10, maxWaitMs: 2000 });
    const published = await shared.setPolicy({ queue: { maxSize: 10 } });
    expect(published.queue).toEqual({ maxSize: 10, maxWaitMs: 2000 });
    expect(shared.queueSettings).toMatchObject({ maxSize: 10, maxWaitMs: 2000 });
  } finally {
    await shared.close();
    await memory.close();
    await store.close();
  }
});

test("a process's own publish delivered after its watch brought a later version does not take its limiters back", async () => {
  // The watch's read sees version 2 (another process wrote after this one's version 1) before this
  // process's publishPolicy hands over its own version 1.
  const v = (version: number, rate: number): VersionedPolicy => ({ rate, intervalMs: 1000, burst: rate, version });
  const registry = { get: async () => ({ ...v(2, 20), name: 'race', updatedAt: '', by: '' }) } as unknown as PolicyRegistry;
  const watch = new PolicyWatch(registry);
  const heard: (VersionedPolicy | undefined)[] = [];
  const stop = watch.watch('race', (p) => heard.push(p));
  try {
    await waitFor(() => heard.length === 1, 5_000, 'the watch to deliver version 2');
    watch.published('race', v(1, 10));
    expect(heard.map((p) => p?.version)).toEqual([2]);
    // A later version of its own, and a policy published again after a removal, still go through.
    watch.published('race', v(3, 30));
    expect(heard.map((p) => p?.version)).toEqual([2, 3]);
  } finally {
    stop();
    watch.close();
  }
});

test('a limiter made after a change decides even its first takes by the published policy, not its own options', async () => {
  const publisher = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  const later = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  const admin = createLimiter({ name: 'made-later', rate: 100, burst: 100, store: publisher });
  let made: ReturnType<typeof createLimiter> | undefined;
  try {
    await publisher.ready(20_000);
    await later.ready(20_000);
    await admin.setPolicy({ rate: 1, interval: '1m', burst: 2 });
    made = createLimiter({ name: 'made-later', rate: 100, burst: 100, store: later });
    const limiter = made;
    // Taken at once, before the published policy could have been read.
    const decisions = await Promise.all(Array.from({ length: 5 }, () => limiter.take('first-takes')));
    expect(decisions.map((d) => d.limit)).toEqual([2, 2, 2, 2, 2]);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(2);
  } finally {
    await made?.close();
    await admin.close();
    await later.close();
    await publisher.close();
  }
});

test('a limiter made during a declared outage decides its first take at once, without waiting for its policy', async () => {
  // Nothing listens on port 1: the store declares the outage after unavailableAfter.
  const store = new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '1s' });
  let made: ReturnType<typeof createLimiter> | undefined;
  try {
    await new Promise<void>((resolve) => store.once('degraded', () => resolve()));
    made = createLimiter({ name: 'made-in-outage', rate: 5, burst: 5, store });
    const started = performance.now();
    const decision = await made.take('first');
    const took = performance.now() - started;
    expect(decision.allowed).toBe(true);
    // Before, it waited the whole unavailableAfter (1 s) for a policy read that cannot come.
    expect(took).toBeLessThan(500);
  } finally {
    await made?.close();
    await store.close();
  }
});
