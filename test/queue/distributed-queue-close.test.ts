// DistributedQueue.close() on a shared ZooKeeperStore: the queue stops listening to the store's session (no server needed).

import { DistributedQueue, ZooKeeperStore } from '../../src/index.js';

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
