// A ZooKeeperStore that cannot reach ZooKeeper: its memory stays bounded, and close() still resolves (no server needed).

import { createLimiter, ZooKeeperStore } from '../../src/index.js';

test('300 one-off keys during an outage leave no lease behind once idle', async () => {
  // Nothing listens on port 1: the store is unavailable, and takes are decided locally ('local').
  const store = new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '200ms', leaseWindow: '100ms' });
  const limiter = createLimiter({ rate: 1000, burst: 1000, store, name: 'outage' });
  try {
    for (let i = 0; i < 300; i++) expect((await limiter.take(`ip-${i}`)).allowed).toBe(true);
    expect(store.stats().available).toBe(false);
    expect(store.stats().leasedKeys).toBe(300);
    // Idle after 1 s (4 lease windows, at least 1 s); the sweep runs every 250 ms.
    const deadline = Date.now() + 5000;
    while (store.stats().leasedKeys > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(store.stats().leasedKeys).toBe(0);
  } finally {
    await limiter.close();
    await store.close();
  }
});

test.each([0, 40, 150, 400, 900])('close() %p ms after construction, with no server to reach, resolves', async (afterMs) => {
  const store = new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '200ms' });
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  await expect(store.close()).resolves.toBeUndefined();
});

test('refunds of takes the fallback decided go to the fallback, not into a lease (whose tokens would reach the shared bucket later)', async () => {
  const store = new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '100ms' });
  const limiter = createLimiter({ rate: 1, interval: '1m', burst: 3, store, name: 'refunds' });
  try {
    for (let i = 0; i < 3; i++) expect((await limiter.take('k')).allowed).toBe(true);
    expect((await limiter.take('k')).allowed).toBe(false);
    await limiter.refund('k', 3);
    // The local fallback has them back...
    expect((await limiter.take('k', { cost: 3 })).allowed).toBe(true);
    // ...and no lease holds tokens that never left ZooKeeper's bucket.
    const leases = (store as unknown as { leases: Map<string, { tokens: number }> }).leases;
    expect([...leases.values()].reduce((sum, lease) => sum + lease.tokens, 0)).toBe(0);
  } finally {
    await limiter.close();
    await store.close();
  }
});
