// Issue 4: "Connection loss during a create never leaves a duplicate", in the hard case: the
// create was applied, its reply was lost, and a consumer took and finished the item before the
// producer could look for it. A proxy swallows the server's replies; the server is real.

import { DistributedQueue, ZooKeeperStore } from '../../src/index.js';
import { sleep, uniqueRoot, waitFor } from '../helpers/wait.js';
import { startCluster } from '../zookeeper/helpers/cluster.js';
import { RawClient, removeRoot } from '../zookeeper/helpers/raw-client.js';
import { ReplySwallowingProxy } from './helpers/reply-swallowing-proxy.js';

jest.setTimeout(60_000);

let zk: { connect: string; stop(): void };
const root = uniqueRoot('dqmarker');

beforeAll(() => {
  const shared = process.env.FLOWGATE_ZK_STANDALONE;
  zk = shared !== undefined && shared !== '' ? { connect: shared, stop: () => undefined } : startCluster('tq-protected-create', 'standalone', 27590);
});

afterAll(async () => {
  await removeRoot(zk.connect, root).catch(() => undefined);
  zk.stop();
});

interface Job {
  readonly n: string;
}

test('an item created, its reply lost, and consumed before the producer looked for it is not stored again', async () => {
  const proxy = await ReplySwallowingProxy.start(Number(zk.connect.split(',')[0]?.split(':')[1]));
  const producer = new DistributedQueue<Job>({ connect: proxy.connect, root, name: 'lost-reply', callTimeout: '1s' });
  const consumerQueue = new DistributedQueue<Job>({ connect: zk.connect, root, name: 'lost-reply' });
  const delivered: string[] = [];
  const consumer = consumerQueue.consume((job) => {
    delivered.push(job.n);
  });
  try {
    await producer.enqueue({ n: 'warm-up' });
    await waitFor(() => delivered.includes('warm-up'), 10_000, 'the warm-up item delivered');

    proxy.swallowReplies();
    const started = performance.now();
    const enqueued = producer.enqueue({ n: 'lost' });
    // The create reached the server: the consumer sees the item and finishes it while the
    // producer still waits for the reply that never comes.
    await waitFor(() => delivered.includes('lost'), 10_000, 'the item whose reply was lost delivered');
    const consumedAfterMs = performance.now() - started;
    const id = await enqueued;
    const answeredAfterMs = performance.now() - started;
    // Time for a second copy, had one been made, to reach the consumer.
    await sleep(1_500);

    const raw = await RawClient.connect(zk.connect);
    let left: string[];
    let markers: string[];
    try {
      const queue = `${root}/queues/${(await raw.getChildren(`${root}/queues`))[0]}`;
      left = await raw.getChildren(`${queue}/items`);
      markers = await raw.getChildren(`${queue}/creating`);
    } finally {
      raw.close();
    }
    process.stdout.write(
      `[protected-create] consumed ${consumedAfterMs.toFixed(0)} ms after the enqueue began, enqueue answered after ${answeredAfterMs.toFixed(0)} ms with ${id}; ` +
        `proxy connections ${proxy.connections}; deliveries ${JSON.stringify(delivered)}; items left ${left.length}\n`,
    );
    // The reply really was lost: the item was consumed before the enqueue was answered, on a new connection.
    expect(consumedAfterMs).toBeLessThan(answeredAfterMs);
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(id).toMatch(/^_c_[0-9a-f-]{36}-t\d+-item-/);
    expect(delivered.filter((n) => n === 'lost')).toEqual(['lost']);
    expect(left).toEqual([]);
    // The creates' markers were removed after a quiet second.
    expect(markers).toEqual([]);
  } finally {
    await consumer.stop();
    await consumerQueue.close();
    await producer.close();
    await proxy.close();
  }
});

test('the markers cost no write of their own while items keep coming, and none is left after a quiet second', async () => {
  const store = new ZooKeeperStore({ connect: zk.connect, root });
  const queue = new DistributedQueue<Job>({ store, name: 'markers' });
  const raw = await RawClient.connect(zk.connect);
  try {
    await queue.enqueue({ n: 'first' });
    const before = store.stats().operations;
    for (let i = 0; i < 200; i++) await queue.enqueue({ n: String(i) });
    const after = store.stats().operations;
    const queues = await raw.getChildren(`${root}/queues`);
    const markersNow = (await Promise.all(queues.map((q) => raw.getChildren(`${root}/queues/${q}/creating`)))).flat();
    await sleep(1_500);
    const markersLater = (await Promise.all(queues.map((q) => raw.getChildren(`${root}/queues/${q}/creating`)))).flat();
    const writes = (op: string): number => (after[op] ?? 0) - (before[op] ?? 0);
    process.stdout.write(`[protected-create] 200 enqueues: multi ${writes('multi')}, create ${writes('create')}, delete ${writes('remove')}; markers right after ${markersNow.length}, 1.5 s later ${markersLater.length}\n`);
    // One multi per item (item, its marker, and the removal of the earlier markers), nothing else.
    expect({ multi: writes('multi'), create: writes('create'), remove: writes('remove') }).toEqual({ multi: 200, create: 0, remove: 0 });
    expect(markersNow.length).toBe(1);
    expect(markersLater).toEqual([]);
    expect(await queue.size()).toBe(201);
  } finally {
    raw.close();
    await queue.close();
    await store.close();
  }
});
