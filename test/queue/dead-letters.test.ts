// DistributedQueue dead letters on a real standalone server: each has an id; requeueDeadLetters()
// puts them (all, or some) back in the queue with their deliveries counted from 0 again, and
// removeDeadLetters() deletes them; ids that are gone are skipped, bad ids refused.

import { DistributedQueue, FlowgateArgumentError } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-dq-dead-letters', 27810, 'dqdead');

test('dead letters can be moved back to the queue (all or by id) after the cause is fixed, or deleted', async () => {
  const queue = new DistributedQueue<{ job: string }>({ connect: zk.connect, root: zk.root, name: 'redrive', maxAttempts: 2, pollInterval: '200ms' });
  const handled: Array<{ job: string; attempt: number; firstId: string }> = [];
  const enqueued = new Map<string, string>();
  let broken = true;
  try {
    for (const job of ['a', 'b', 'c', 'd']) enqueued.set(job, await queue.enqueue({ job }, job === 'd' ? { priority: 3 } : {}));
    const consumer = queue.consume((item, info) => {
      handled.push({ job: item.job, attempt: info.attempt, firstId: info.firstId });
      if (broken) throw new Error(`downstream down for ${item.job}`);
    });
    await waitFor(async () => (await queue.deadLetters()).length === 4, 10_000, 'four dead letters');
    const letters = await queue.deadLetters();
    expect(letters.map((l) => [l.item.job, l.attempts, l.error])).toEqual(
      expect.arrayContaining([
        ['a', 2, 'downstream down for a'],
        ['b', 2, 'downstream down for b'],
        ['c', 2, 'downstream down for c'],
        ['d', 2, 'downstream down for d'],
      ]),
    );
    expect(new Set(letters.map((l) => l.id)).size).toBe(4);
    // firstId is the id enqueue() resolved with, over the retry and into the dead letters.
    expect(letters.every((l) => l.firstId === enqueued.get(l.item.job))).toBe(true);
    const id = (job: string): string => (letters.find((l) => l.item.job === job) as { id: string }).id;

    // The downstream is back: b and d go back in the queue, and are handled at their first attempt again.
    broken = false;
    handled.length = 0;
    expect(await queue.requeueDeadLetters([id('b'), id('d')])).toBe(2);
    await waitFor(() => handled.length === 2, 5_000, 'b and d handled');
    expect(handled.map((h) => `${h.job}#${h.attempt}`).sort()).toEqual(['b#1', 'd#1']);
    // Requeued, an item keeps its firstId.
    expect(handled.every((h) => h.firstId === enqueued.get(h.job))).toBe(true);
    expect((await queue.deadLetters()).map((l) => l.item.job).sort()).toEqual(['a', 'c']);

    // Ids already moved are skipped.
    expect(await queue.requeueDeadLetters([id('b')])).toBe(0);
    // a is deleted for good, then c goes back with "all".
    expect(await queue.removeDeadLetters([id('a'), id('b')])).toBe(1);
    expect(await queue.requeueDeadLetters()).toBe(1);
    await waitFor(() => handled.some((h) => h.job === 'c'), 5_000, 'c handled');
    await waitFor(async () => (await queue.size()) === 0, 5_000, 'the queue to empty');
    await consumer.stop();
    expect(await queue.deadLetters()).toEqual([]);
    expect(handled.map((h) => h.job).sort()).toEqual(['b', 'c', 'd']);
    expect(await queue.removeDeadLetters()).toBe(0);

    // Bad ids are refused naming the argument.
    await expect(queue.requeueDeadLetters('all' as never)).rejects.toThrow(FlowgateArgumentError);
    await expect(queue.removeDeadLetters([1] as never)).rejects.toThrow(/ids/);
  } finally {
    await queue.close();
  }
});

test('deadLetters() while another instance removes them: never rejects (NO_NODE), lists each at most once', async () => {
  const name = 'dead-race';
  const filler = new DistributedQueue<{ n: number }>({ connect: zk.connect, root: zk.root, name, maxAttempts: 1 });
  const reader = new DistributedQueue<{ n: number }>({ connect: zk.connect, root: zk.root, name });
  try {
    for (let n = 0; n < 60; n++) await filler.enqueue({ n });
    const consumer = filler.consume(() => {
      throw new Error('fails');
    }, { concurrency: 8 });
    await waitFor(async () => (await filler.deadLetters()).length === 60, 20_000, '60 dead letters');
    await consumer.stop();
    const lists: number[] = [];
    const reading = (async () => {
      for (let i = 0; i < 15; i++) {
        const letters = await reader.deadLetters();
        expect(new Set(letters.map((l) => l.id)).size).toBe(letters.length);
        lists.push(letters.length);
      }
    })();
    const moved = await filler.removeDeadLetters();
    await reading;
    expect(moved).toBe(60);
    expect(await reader.deadLetters()).toEqual([]);
    expect(lists).toHaveLength(15);
  } finally {
    await reader.close();
    await filler.close();
  }
});
