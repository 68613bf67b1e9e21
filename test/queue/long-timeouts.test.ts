// DistributedQueue on a real standalone server: timeouts longer than Node's longest timer (2^31 - 1 ms,
// about 24.8 days) are waited out, not cut to 1 ms: a dequeue with such a timeout takes its item;
// a pollInterval that long is refused when the queue is made, naming the option.

import { DistributedQueue, FlowgateConfigError } from '../../src/index.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-dq-long-timeouts', 28441, 'dqlongtimeouts');

test('dequeue({ timeout }) past 24.8 days takes the item that is there, and one enqueued while it waits', async () => {
  const queue = new DistributedQueue<{ n: number }>({ connect: zk.connect, root: zk.root, name: 'long-timeout', pollInterval: '100ms' });
  // Only a guard against a hang: the dequeues below answer as soon as their item is there.
  const guard = new AbortController();
  const timer = setTimeout(() => guard.abort(new Error('dequeue did not take its item within 20 s')), 20_000);
  try {
    await queue.enqueue({ n: 1 });
    await expect(queue.dequeue({ timeout: '720h', signal: guard.signal })).resolves.toEqual({ n: 1 });
    const waiting = queue.dequeue({ timeout: 30 * 24 * 3_600_000, signal: guard.signal });
    await queue.enqueue({ n: 2 });
    await expect(waiting).resolves.toEqual({ n: 2 });
    expect(await queue.size()).toBe(0);
  } finally {
    clearTimeout(timer);
    await queue.close();
  }
});

test('a pollInterval past the longest timer is refused, naming the option', () => {
  expect(() => new DistributedQueue({ connect: '127.0.0.1:1', name: 'never', pollInterval: '720h' })).toThrow(FlowgateConfigError);
  expect(() => new DistributedQueue({ connect: '127.0.0.1:1', name: 'never', pollInterval: '720h' })).toThrow(/pollInterval/);
});
