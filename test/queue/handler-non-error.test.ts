// DistributedQueue consumers on a real standalone server: a handler that throws or rejects with a
// value that is not an Error (undefined, null, a string) has failed all the same: its item goes
// back, then to the dead letters after maxAttempts; it is never removed as if handled.

import { DistributedQueue } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-dq-non-error', 28440, 'dqnonerror');

test.each([
  ['rejects with undefined', (): Promise<never> => Promise.reject(undefined)],
  ['throws undefined', (): never => {
    throw undefined;
  }],
  ['rejects with null', (): Promise<never> => Promise.reject(null)],
  ['throws a string', (): never => {
    throw 'nope';
  }],
])('a handler that %s fails its delivery: retried, then dead-lettered', async (label, fail) => {
  const queue = new DistributedQueue<{ job: string }>({ connect: zk.connect, root: zk.root, name: `non-error ${label}`, maxAttempts: 2, pollInterval: '100ms' });
  const attempts: number[] = [];
  try {
    await queue.enqueue({ job: label });
    const consumer = queue.consume((_item, info) => {
      attempts.push(info.attempt);
      return fail();
    });
    await waitFor(async () => (await queue.deadLetters()).length === 1, 20_000, 'the item in the dead letters');
    await consumer.stop();
    expect(attempts).toEqual([1, 2]);
    expect(await queue.size()).toBe(0);
    const [letter] = await queue.deadLetters();
    expect(letter?.item).toEqual({ job: label });
    expect(letter?.attempts).toBe(2);
    expect(typeof letter?.error).toBe('string');
  } finally {
    await queue.close();
  }
});
