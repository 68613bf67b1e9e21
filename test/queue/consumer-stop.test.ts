// QueueConsumer.stop({ timeout }) and DistributedQueue.close({ timeout }) on a real standalone server: a
// handler that never settles does not hold a shutdown for ever; its item goes back for another consumer
// at once (not when the session ends), and bad options are refused naming them.

import { DistributedQueue, FlowgateArgumentError, FlowgateConfigError, ZooKeeperStore } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-dq-consumer-stop', 27830, 'dqstop');

function log(message: string): void {
  process.stdout.write(`[consumer-stop] ${message}\n`);
}

/** A queue of its own session holding one item `{ job }`, whose consumer's handler started on it and never settles. */
async function queueStuckOn(name: string, job: string): Promise<DistributedQueue<{ job: string }>> {
  const queue = new DistributedQueue<{ job: string }>({ connect: zk.connect, root: zk.root, name });
  await queue.enqueue({ job });
  let started = false;
  queue.consume(() => {
    started = true;
    return new Promise(() => undefined);
  });
  await waitFor(() => started, 5_000, `the handler of '${name}' to start`);
  return queue;
}

/** Takes the next item of queue `name` through a new instance (the item a stuck consumer gave back). */
async function nextItem(name: string): Promise<unknown> {
  const check = new DistributedQueue<{ job: string }>({ connect: zk.connect, root: zk.root, name });
  try {
    return await check.dequeue({ timeout: '5s' });
  } finally {
    await check.close();
  }
}

test('stop({ timeout }) resolves at its timeout with a handler stuck, and the stuck item goes to another consumer at once', async () => {
  // One shared store with a long session: without the give-back, the item would wait for it to end.
  const store = new ZooKeeperStore({ connect: zk.connect, root: zk.root, sessionTimeout: '20s' });
  const stuckQueue = new DistributedQueue<{ job: string }>({ store, name: 'stuck' });
  const other = new DistributedQueue<{ job: string }>({ connect: zk.connect, root: zk.root, name: 'stuck', pollInterval: '100ms' });
  const seen: Array<{ job: string; attempt: number }> = [];
  try {
    await stuckQueue.enqueue({ job: 'hangs' });
    let started = false;
    const stuck = stuckQueue.consume(() => {
      started = true;
      return new Promise(() => undefined);
    });
    await waitFor(() => started, 5_000, 'the handler to start');
    const stopAt = performance.now();
    await stuck.stop({ timeout: '300ms' });
    const stopMs = performance.now() - stopAt;
    const consumer = other.consume((item, info) => void seen.push({ job: item.job, attempt: info.attempt }));
    const takenMs = await waitFor(() => seen.length === 1, 5_000, 'the other consumer to take the item');
    await consumer.stop();
    log(`stop({ timeout: '300ms' }) resolved after ${stopMs.toFixed(0)} ms; the other consumer had the item ${takenMs.toFixed(0)} ms later (session timeout 20 s)`);
    expect(stopMs).toBeGreaterThanOrEqual(295);
    expect(stopMs).toBeLessThan(2_000);
    expect(takenMs).toBeLessThan(3_000);
    expect(seen).toEqual([{ job: 'hangs', attempt: 2 }]);
    await waitFor(async () => (await other.size()) === 0, 5_000, 'the queue to empty');
  } finally {
    await other.close();
    await stuckQueue.close();
    await store.close();
  }
});

test('close({ timeout }) of a queue whose handler is stuck resolves at its timeout; close() without one waits for the handler', async () => {
  const queue = new DistributedQueue<{ job: string }>({ connect: zk.connect, root: zk.root, name: 'close-stuck' });
  await queue.enqueue({ job: 'a' });
  let release: () => void = () => undefined;
  let started = false;
  queue.consume(
    () =>
      new Promise<void>((resolve) => {
        started = true;
        release = resolve;
      }),
  );
  await waitFor(() => started, 5_000, 'the handler to start');
  // Without a timeout, close() waits for the handler: still pending 500 ms on, done once it settles.
  let closed = false;
  const closing = queue.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(closed).toBe(false);
  release();
  await closing;
  // The handler resolved before the session closed: its item was removed.
  const after = new DistributedQueue({ connect: zk.connect, root: zk.root, name: 'close-stuck' });
  try {
    expect(await after.size()).toBe(0);
  } finally {
    await after.close();
  }

  const second = await queueStuckOn('close-stuck-2', 'b');
  const at = performance.now();
  await second.close({ timeout: 200 });
  const ms = performance.now() - at;
  log(`close({ timeout: 200 }) with a stuck handler resolved after ${ms.toFixed(0)} ms`);
  expect(ms).toBeGreaterThanOrEqual(195);
  expect(ms).toBeLessThan(3_000);
  // The item is still in the queue, for the next consumer.
  expect(await nextItem('close-stuck-2')).toEqual({ job: 'b' });
});

test('bad stop and close options are refused naming them', async () => {
  const queue = new DistributedQueue({ connect: zk.connect, root: zk.root, name: 'stop-options' });
  const consumer = queue.consume(() => undefined);
  await expect(consumer.stop({ timeout: 'soon' })).rejects.toThrow(FlowgateConfigError);
  await expect(consumer.stop({ timeout: -5 })).rejects.toThrow(/timeout/);
  await expect(consumer.stop({ timout: '1s' } as never)).rejects.toThrow(/timout/);
  await expect(consumer.stop(null as never)).rejects.toThrow(FlowgateArgumentError);
  await expect(queue.close({ timeout: 'never' })).rejects.toThrow(/timeout/);
  await consumer.stop({ timeout: '1s' });
  await queue.close();
});

test('stop({ timeout: 0 }) right after consume(): no handler starts after it resolved; the items stay for the next consumer', async () => {
  const queue = new DistributedQueue<{ n: number }>({ connect: zk.connect, root: zk.root, name: 'stop-at-once' });
  const next = new DistributedQueue<{ n: number }>({ connect: zk.connect, root: zk.root, name: 'stop-at-once', pollInterval: '100ms' });
  try {
    for (let n = 0; n < 3; n++) await queue.enqueue({ n });
    let stopped = false;
    let startedAfterStop = 0;
    const consumer = queue.consume(
      () => {
        if (stopped) startedAfterStop++;
        return new Promise((resolve) => setTimeout(resolve, 2_000));
      },
      { concurrency: 3 },
    );
    await consumer.stop({ timeout: 0 });
    stopped = true;
    // Let the claim round that was under way at the stop come back.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(startedAfterStop).toBe(0);
    const taken: number[] = [];
    const other = next.consume((item) => void taken.push(item.n), { concurrency: 3 });
    await waitFor(() => taken.length === 3, 5_000, 'the next consumer to take the three items');
    await other.stop();
    expect(taken.sort()).toEqual([0, 1, 2]);
  } finally {
    await next.close();
    await queue.close();
  }
});

test("a handler that settles after its stop's timeout changes nothing, also for a consumer of the same queue instance that takes the item next", async () => {
  const queue = new DistributedQueue<{ job: string }>({ connect: zk.connect, root: zk.root, name: 'late-handler', maxAttempts: 3, pollInterval: '100ms' });
  const events: string[] = [];
  try {
    await queue.enqueue({ job: 'x' });
    let startedA = false;
    const a = queue.consume(async (_item, info) => {
      startedA = true;
      events.push(`A start #${info.attempt}`);
      await new Promise((resolve) => setTimeout(resolve, 800));
      events.push('A throws');
      throw new Error('late failure');
    });
    await waitFor(() => startedA, 5_000, 'A to start');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.stop({ timeout: 50 });
    let inB = 0;
    let maxInB = 0;
    const b = queue.consume(
      async (_item, info) => {
        inB++;
        maxInB = Math.max(maxInB, inB);
        events.push(`B start #${info.attempt}`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        inB--;
      },
      { concurrency: 2 },
    );
    await waitFor(() => events.includes('B start #2') && inB === 0, 10_000, 'B to handle the item');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await b.stop();
    log(`late handler: ${events.join(', ')}`);
    // A's late failure put nothing back (before: a copy B took at once, at the same attempt number).
    expect(events.filter((e) => e.startsWith('B start'))).toEqual(['B start #2']);
    expect(maxInB).toBe(1);
    expect(await queue.size()).toBe(0);
    expect(await queue.deadLetters()).toEqual([]);
  } finally {
    await queue.close();
  }
});

test('close({ timeout }) called while a close() without one waits for a stuck handler ends both', async () => {
  const queue = await queueStuckOn('close-twice', 'stuck');
  let firstDone = false;
  const first = queue.close().then(() => (firstDone = true));
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(firstDone).toBe(false);
  const at = performance.now();
  await queue.close({ timeout: '200ms' });
  const ms = performance.now() - at;
  await first;
  log(`a second close({ timeout: '200ms' }) ended a close() stuck on a handler after ${ms.toFixed(0)} ms`);
  expect(ms).toBeGreaterThanOrEqual(195);
  expect(ms).toBeLessThan(3_000);
  // The item was given back: the next consumer gets it.
  expect(await nextItem('close-twice')).toEqual({ job: 'stuck' });
});
