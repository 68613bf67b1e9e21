// Durations past Node's longest timer (2^31 - 1 ms, about 24.8 days) fire after 1 ms: an
// unavailableAfter that long made every acquire give up on a healthy ZooKeeper ('unavailable').
// They are refused where they are given, naming the option; the longest one allowed works.

import { createConcurrencyLimiter, DistributedQueue, ZooKeeperPermitStore, ZooKeeperStore } from '../../src/index.js';
import { configErrorOf } from '../helpers/config-error.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-concurrency-timer-bounds', 28443, 'timerbounds');
const LONGEST = 2_147_483_647;

test('unavailableAfter / callTimeout past the longest timer are refused, naming the option and the value', async () => {
  const store = new ZooKeeperStore({ connect: '127.0.0.1:1', root: zk.root });
  try {
    const permits = configErrorOf(() => new ZooKeeperPermitStore(store, { unavailableAfter: '720h' }));
    expect([permits.option, permits.message]).toEqual(['unavailableAfter', expect.stringContaining('720h')]);
    expect(configErrorOf(() => new ZooKeeperPermitStore(store, { unavailableAfter: LONGEST + 1 })).option).toBe('unavailableAfter');
    expect(configErrorOf(() => new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '720h' })).option).toBe('unavailableAfter');
    expect(configErrorOf(() => new DistributedQueue({ connect: '127.0.0.1:1', name: 'q', callTimeout: '720h' })).option).toBe('callTimeout');
  } finally {
    await store.close();
  }
});

test('with the longest unavailableAfter allowed, a healthy ZooKeeper decides the acquires', async () => {
  const store = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  const permits = new ZooKeeperPermitStore(store, { unavailableAfter: LONGEST, onUnavailable: 'closed' });
  const limiter = createConcurrencyLimiter({ concurrency: 1, name: 'longest', store: permits });
  try {
    await store.ready(15_000);
    const first = await limiter.acquire('k');
    expect(first.allowed).toBe(true);
    const second = await limiter.acquire('k');
    expect([second.allowed, second.reason]).toEqual([false, 'concurrency']);
    first.permit?.release();
  } finally {
    await limiter.close();
    await permits.close();
    await store.close();
  }
});
