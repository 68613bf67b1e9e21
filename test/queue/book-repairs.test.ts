// Issue 4: no waiter of the cluster-wide queue waits behind one that is gone: waiters that leave
// together, leave while ZooKeeper is away, or go with a closing limiter are taken out of the shared
// book, and so are the waiters of a booking whose write landed while its reply was lost.

import { createLimiter, ZooKeeperStore, type Decision, type Limiter } from '../../src/index.js';
import { decodeBucket } from '../../src/stores/zookeeper/bucket-codec.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';
import { FaultProxy } from '../zookeeper/helpers/fault-proxy.js';
import { bookReader } from './helpers/booked-waiters.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-book-repairs', 27750, 'repairs');

/** 2 tokens a second, burst 2, a long queue: a waiter booked behind N others waits N/2 s. */
const LIMIT = { rate: 2, interval: '1s', burst: 2, queue: { maxSize: 1000, maxWait: '5m' } } as const;

const books = bookReader(zk);
const { bookedWaiters } = books;

/** Two processes' stores on one limit: A (through `connect`) and B; closed after `run`. */
async function twoProcesses(name: string, connectA: string, run: (a: { store: ZooKeeperStore; limiter: Limiter }, b: { store: ZooKeeperStore; limiter: Limiter }) => Promise<void>): Promise<void> {
  const storeA = new ZooKeeperStore({ connect: connectA, root: zk.root, unavailableAfter: '1s', sessionTimeout: '6s' });
  const storeB = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  const a = { store: storeA, limiter: createLimiter({ ...LIMIT, name, store: storeA }) };
  const b = { store: storeB, limiter: createLimiter({ ...LIMIT, name, store: storeB }) };
  try {
    await Promise.all([storeA.ready(10_000), storeB.ready(10_000)]);
    await waitFor(() => storeA.stats().members === 2 && storeB.stats().members === 2, 10_000, 'both members registered');
    await run(a, b);
  } finally {
    await Promise.all([a.limiter.close(), b.limiter.close()]);
    await Promise.all([storeA.close(), storeB.close()]);
  }
}

/** Drains the burst of `key` through `limiter`, then books one waiter (so the key's line has formed). */
async function formQueue(limiter: Limiter, name: string, key: string): Promise<Promise<Decision>> {
  for (let i = 0; i < LIMIT.burst; i++) expect((await limiter.take(key)).allowed).toBe(true);
  const first = limiter.take(key);
  await waitFor(async () => (await bookedWaiters(name, key)) === 1, 5_000, 'the first waiter booked');
  return first;
}

test('250 waiters leaving at once are taken out of the shared book in a few writes, and the other process is served at once', async () => {
  await twoProcesses('leave-together', zk.connect, async (a, b) => {
    const first = await formQueue(a.limiter, 'leave-together', 'k');
    const leaving = new AbortController();
    const asked = Array.from({ length: 250 }, () => a.limiter.take('k', { signal: leaving.signal }));
    await waitFor(async () => (await bookedWaiters('leave-together', 'k')) >= 250, 5_000, 'the 250 waiters booked');
    const writesBefore = a.store.stats().writes;
    leaving.abort();
    const answers = await Promise.all(asked);
    expect(answers.every((d) => d.reason === 'aborted')).toBe(true);
    // The previous code made one compare-and-set per waiter (1,444 lost races for 100 of them) and
    // gave up on most: 221 of 246 were still booked 1.5 s later, and B waited 12.6 s.
    await waitFor(async () => (await bookedWaiters('leave-together', 'k')) <= 1, 3_000, 'the 250 waiters taken out');
    const writes = a.store.stats().writes - writesBefore;
    console.log(`[book-repairs] 250 waiters aborted at once: taken out in ${writes} write(s)`);
    expect(writes).toBeLessThanOrEqual(5);
    await first;
    const served = await b.limiter.take('k');
    expect(served.allowed).toBe(true);
    expect(served.waitedMs).toBeLessThan(1_000);
  });
});

test('a limiter closed just before its store: its booked waiters are answered "closed" and taken out of the shared book', async () => {
  await twoProcesses('close-then-store', zk.connect, async (a, b) => {
    const first = await formQueue(a.limiter, 'close-then-store', 'k');
    const asked = Array.from({ length: 40 }, () => a.limiter.take('k'));
    await waitFor(async () => (await bookedWaiters('close-then-store', 'k')) >= 40, 5_000, 'the 40 waiters booked');
    await a.limiter.close();
    await a.store.close();
    await first;
    expect((await Promise.all(asked)).every((d) => d.reason === 'closed')).toBe(true);
    // The previous code let the store close before the cancels went out: all 40 stayed booked.
    expect(await bookedWaiters('close-then-store', 'k')).toBe(0);
    const served = await b.limiter.take('k');
    expect(served.allowed).toBe(true);
    expect(served.waitedMs).toBeLessThan(1_000);
  });
});

test('waiters that leave while ZooKeeper cannot be reached are taken out of the shared book when it is back', async () => {
  const proxy = await FaultProxy.inFrontOf(zk.connect);
  try {
    await twoProcesses('leave-while-away', proxy.connect, async (a, b) => {
      await formQueue(a.limiter, 'leave-while-away', 'k');
      const leaving = new AbortController();
      const asked = Array.from({ length: 30 }, () => a.limiter.take('k', { signal: leaving.signal }));
      await waitFor(async () => (await bookedWaiters('leave-while-away', 'k')) >= 30, 5_000, 'the 30 waiters booked');
      proxy.down();
      await waitFor(() => !a.store.stats().available, 10_000, 'A to see ZooKeeper gone');
      leaving.abort();
      expect((await Promise.all(asked)).every((d) => d.reason === 'aborted')).toBe(true);
      proxy.forward();
      await waitFor(() => a.store.stats().available, 15_000, 'A to reach ZooKeeper again');
      // The previous code dropped a cancel made while unavailable: the 30 stayed booked (15 s of refill).
      await waitFor(async () => (await bookedWaiters('leave-while-away', 'k')) === 0, 3_000, 'the 30 waiters taken out');
      const served = await b.limiter.take('k');
      expect(served.allowed).toBe(true);
      expect(served.waitedMs).toBeLessThan(1_000);
    });
  } finally {
    await proxy.close();
  }
});

test('a booking written while its reply was lost: its waiters, answered by onUnavailable, are taken out of the shared book', async () => {
  const proxy = await FaultProxy.inFrontOf(zk.connect);
  try {
    await twoProcesses('reply-lost', proxy.connect, async (a, b) => {
      const first = await formQueue(a.limiter, 'reply-lost', 'k');
      // The next write of this bucket (the booking of the 20 below) is applied, and its connection
      // cut before the reply: A cannot tell whether it landed.
      proxy.cutAtWriteReply(books.bucket('reply-lost', 'k'));
      const asked = Array.from({ length: 20 }, () => a.limiter.take('k'));
      await waitFor(() => proxy.writesCut === 1, 5_000, 'the booking write applied, its reply lost');
      await waitFor(() => a.store.stats().available, 15_000, 'A to reach ZooKeeper again');
      // The previous code forgot the booking: its 20 waiters stayed in the book (10 s of refill)
      // while A answered them through its fallback, and B's waiters queued behind them.
      await waitFor(async () => (await bookedWaiters('reply-lost', 'k')) <= 1, 3_000, "the lost booking's 20 waiters taken out");
      await first;
      const served = await b.limiter.take('k');
      expect(served.allowed).toBe(true);
      expect(served.waitedMs).toBeLessThan(1_000);
      await a.limiter.close();
      expect((await Promise.all(asked)).length).toBe(20);
    });
  } finally {
    await proxy.close();
  }
});

test('a limiter and its store closed while a batch is being booked: that batch, answered "closed", is taken out of the shared book too', async () => {
  await twoProcesses('close-while-booking', zk.connect, async (a) => {
    await formQueue(a.limiter, 'close-while-booking', 'k');
    // Close the moment the next batch's booking is sent.
    const reserve = a.store.reserve.bind(a.store);
    let closing: Promise<void> | undefined;
    a.store.reserve = (...args: Parameters<typeof a.store.reserve>) => {
      const booking = reserve(...args);
      if (args[2].length > 1 && closing === undefined) closing = a.limiter.close().then(() => a.store.close());
      return booking;
    };
    const asked = Array.from({ length: 40 }, () => a.limiter.take('k'));
    await waitFor(() => closing !== undefined, 5_000, 'the batch booking sent');
    await closing;
    expect((await Promise.all(asked)).every((d) => d.reason === 'closed')).toBe(true);
    // The previous code closed the store before the booking returned, and dropped its cancels: 40 stayed booked.
    expect(await bookedWaiters('close-while-booking', 'k')).toBe(0);
  });
});

/** Tokens of the bucket of `key` of limit `name`, and the server time they refer to. */
async function bucketTokens(name: string, key: string): Promise<{ tokens: number; at: number }> {
  const { data } = await books.raw.getData(books.bucket(name, key));
  const bucket = decodeBucket(data);
  return { tokens: bucket.tokens, at: bucket.at as number };
}

test('a flush of cancels given up at its deadline writes nothing more: every waiter that left is taken out once', async () => {
  // 1 token in 5 s: nobody booked here comes due during the test, so every cancel gives back 1 token.
  const slow = { rate: 1, interval: '5s', burst: 2, queue: { maxSize: 1000, maxWait: '5m' } } as const;
  const name = 'given-up-flush';
  const storeA = new ZooKeeperStore({ connect: zk.connect, root: zk.root, unavailableAfter: '500ms' });
  const storeB = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  const a = createLimiter({ ...slow, name, store: storeA });
  const b = createLimiter({ ...slow, name, store: storeB });
  try {
    await Promise.all([storeA.ready(10_000), storeB.ready(10_000)]);
    await waitFor(() => storeA.stats().members === 2, 10_000, 'both members registered');
    for (let i = 0; i < 2; i++) expect((await a.take('k')).allowed).toBe(true);
    const first = new AbortController();
    const second = new AbortController();
    const stay = [];
    const leaveSecond = [];
    for (let i = 0; i < 10; i++) {
      stay.push(a.take('k'));
      leaveSecond.push(a.take('k', { signal: second.signal }));
    }
    const leaveFirst = Array.from({ length: 10 }, () => a.take('k', { signal: first.signal }));
    await waitFor(async () => (await bookedWaiters(name, 'k')) === 30, 5_000, 'the 30 waiters booked');
    const before = await bucketTokens(name, 'k');
    // A's next write of this bucket (the flush of the first cancels) goes out 700 ms late: past the
    // store's 500 ms deadline, and after B's booking has moved the bucket on.
    const session = (storeA as unknown as { session: { setData: (...args: unknown[]) => Promise<unknown> } }).session;
    const setData = session.setData.bind(session);
    let held = false;
    session.setData = async (...args: unknown[]) => {
      if (args[0] === books.bucket(name, 'k') && !held) {
        held = true;
        await sleep(700);
      }
      return setData(...args);
    };
    first.abort();
    await Promise.all(leaveFirst);
    await sleep(50);
    const waitingInB = b.take('k');
    await waitFor(() => !storeA.stats().available, 2_000, 'the flush given up at its deadline');
    second.abort();
    await Promise.all(leaveSecond);
    await waitFor(() => storeA.stats().available, 5_000, 'A back');
    await waitFor(async () => (await bookedWaiters(name, 'k')) === 11, 5_000, 'only the 10 staying waiters and B left booked');
    await sleep(1_000);
    const after = await bucketTokens(name, 'k');
    // Tokens given back: the change, less the refill, plus B's one.
    const givenBack = after.tokens - before.tokens - (after.at - before.at) / 5_000 + 1;
    // The previous code went on writing after the deadline: the second cancels under the first
    // flush's mark, judged then as the first's; those 10 stayed booked, the second made twice.
    expect(givenBack).toBeCloseTo(20, 0);
    expect(await bookedWaiters(name, 'k')).toBe(11);
    await Promise.all([a.close(), b.close()]);
    await Promise.all([...stay, waitingInB]);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([storeA.close(), storeB.close()]);
  }
});

