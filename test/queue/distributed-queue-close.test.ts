// DistributedQueue.close() and ZooKeeperStore.close() without a reachable server: no listener left on a shared store's session, and waits for ZooKeeper end with the close (no server needed).

import { DistributedQueue, ZooKeeperStore } from '../../src/index.js';
import { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';

test('opening and closing 20 queues on one store leaves no listener behind on its session', async () => {
  // Nothing listens on port 1: the store keeps trying to connect in the background, which is all this needs.
  const store = new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '200ms' });
  const session = store.connection().session;
  const before = session.listenerCount('session');
  for (let i = 0; i < 20; i++) {
    const queue = new DistributedQueue({ store, name: `q${i}` });
    expect(session.listenerCount('session')).toBe(before + 1);
    await queue.close();
  }
  expect(session.listenerCount('session')).toBe(before);
  await store.close();
});

/** What `promise` settles with: `resolved` when it resolves, its error when it rejects. */
function settled(promise: Promise<unknown>, resolved: string): Promise<unknown> {
  return promise.then(
    () => resolved,
    (error: unknown) => error,
  );
}

describe('closed while ZooKeeper is unreachable (nothing listens on port 1)', () => {
  test('store.ready() still waiting ends when the store is closed, with ERR_FLOWGATE_CLOSED, not at its own timeout', async () => {
    const store = new ZooKeeperStore({ connect: '127.0.0.1:1' });
    const ready = settled(store.ready(15_000), 'ready');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closedAt = performance.now();
    await store.close();
    const outcome = await ready;
    // The previous code rejected it 15 s later, its timer keeping the process alive until then.
    expect(performance.now() - closedAt).toBeLessThan(1_000);
    expect(outcome).toMatchObject({ code: 'ERR_FLOWGATE_CLOSED' });
    await expect(store.ready(1_000)).rejects.toMatchObject({ code: 'ERR_FLOWGATE_CLOSED' });
  });

  test('a queue with a consumer running and an enqueue waiting closes within its 2 s grace; the enqueue fails with ERR_FLOWGATE_CLOSED', async () => {
    const queue = new DistributedQueue<number>({ connect: '127.0.0.1:1', name: 'q' });
    const reported: unknown[] = [];
    const consumer = queue.consume(() => undefined, { onError: (error) => reported.push(error) });
    const enqueued = settled(queue.enqueue(1), 'stored');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const closedAt = performance.now();
    await queue.close();
    const tookMs = performance.now() - closedAt;
    // The previous code waited for ZooKeeper for up to 30 s: close() took ~30 s with a consumer
    // running, and the enqueue failed only then, with "not ready".
    expect(tookMs).toBeLessThan(6_000);
    expect(await enqueued).toMatchObject({ code: 'ERR_FLOWGATE_CLOSED' });
    expect(consumer).toBeDefined();
    // Its own queue's close is nothing for a consumer to report (it used to tell onError, by default console.warn).
    expect(reported).toEqual([]);
  });

  test('a closed session is not waited for: ready() rejects at once', async () => {
    const session = new ZooKeeperSession({ connect: '127.0.0.1:1', sessionTimeoutMs: 6_000, callTimeoutMs: 1_000 });
    session.start();
    await session.close();
    const askedAt = performance.now();
    await expect(session.ready(5_000)).rejects.toThrow(/closed/);
    expect(performance.now() - askedAt).toBeLessThan(1_000);
  });
});
