// A live policy change (setPolicy) while waiters of the cluster-wide queue are booked in two
// processes: every process times its booked waiters by the rate the shared bucket refills at, so
// the waiters booked before the change are still served before those booked behind them after it.

import { createLimiter, ZooKeeperStore, type Decision, type Limiter } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';
import { bookReader } from './helpers/booked-waiters.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-policy-waiters', 27920, 'policywaiters');
const books = bookReader(zk);

/** One token a second, burst 1: a waiter booked behind N others waits about N s. */
const LIMIT = { rate: 1, interval: '1s', burst: 1, strict: true, queue: { maxSize: 100, maxWait: '1m' } } as const;

test('a rate raised while A holds booked waiters: B\'s waiter booked behind them after the change is served after them', async () => {
  const name = 'policy-waiters';
  const stores = [new ZooKeeperStore({ connect: zk.connect, root: zk.root }), new ZooKeeperStore({ connect: zk.connect, root: zk.root })];
  const [a, b] = stores.map((store) => createLimiter({ ...LIMIT, name, store })) as [Limiter, Limiter];
  try {
    await Promise.all(stores.map((s) => s.ready(10_000)));
    await waitFor(() => stores.every((s) => s.stats().members === 2), 10_000, 'both members registered');
    expect((await a.take('k')).allowed).toBe(true);
    const order: string[] = [];
    const answers: Array<Promise<Decision>> = [];
    const track = (label: string, decision: Promise<Decision>): void => {
      answers.push(
        decision.then((d) => {
          order.push(d.allowed ? label : `${label}:refused`);
          return d;
        }),
      );
    };
    // Four waiters in A, due about 1, 2, 3 and 4 s from now at the old rate.
    for (let i = 1; i <= 4; i++) track(`a${i}`, a.take('k'));
    await waitFor(async () => (await books.bookedWaiters(name, 'k')) === 4, 5_000, "A's 4 waiters booked");

    // 50 a second from now on: the debt of 4 tokens is paid within 0.1 s of the next write.
    const { version } = await a.setPolicy({ rate: 50, burst: 1 });
    await waitFor(() => b.policyVersion === version, 5_000, 'B on the new policy');
    track('b1', b.take('k'));
    await waitFor(async () => (await books.bookedWaiters(name, 'k')) >= 1 && order.length > 0, 5_000, 'something answered');
    const decisions = await Promise.all(answers);
    expect(decisions.every((d) => d.allowed)).toBe(true);
    // The book's order: A's waiters first, then B's, booked behind them.
    expect(order).toEqual(['a1', 'a2', 'a3', 'a4', 'b1']);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Promise.all(stores.map((s) => s.close()));
  }
});
