// Issue 4: `limiter.reset(key)` on the ZooKeeper store while waiters of the cluster-wide queue are
// booked in the key's bucket: they are paid from the full burst first, in their order, in every
// process, and the takes that come next queue behind them instead of going ahead with the new tokens.

import { createLimiter, ZooKeeperStore, type Decision, type Limiter } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';
import { bookReader } from './helpers/booked-waiters.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-reset-waiters', 27850, 'resetwaiters');

/** One token a second, burst 4: a waiter booked behind N others waits about N s. */
const LIMIT = { rate: 1, interval: '1s', burst: 4, queue: { maxSize: 100, maxWait: '5m' } } as const;

const books = bookReader(zk);
const { bookedWaiters } = books;

/** Two processes' stores on one limit, A and B (`orderGraceMs`: the queue's orderGrace); closed after `run`. */
async function twoProcesses(name: string, run: (a: Limiter, b: Limiter) => Promise<void>, orderGraceMs?: number): Promise<void> {
  const stores = [new ZooKeeperStore({ connect: zk.connect, root: zk.root }), new ZooKeeperStore({ connect: zk.connect, root: zk.root })];
  const queue = orderGraceMs === undefined ? LIMIT.queue : { ...LIMIT.queue, orderGrace: orderGraceMs };
  const [a, b] = stores.map((store) => createLimiter({ ...LIMIT, queue, name, store })) as [Limiter, Limiter];
  try {
    await Promise.all(stores.map((s) => s.ready(10_000)));
    await waitFor(() => stores.every((s) => s.stats().members === 2), 10_000, 'both members registered');
    await run(a, b);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await Promise.all(stores.map((s) => s.close()));
  }
}

/** A take whose answer is recorded, with when it came and in which order. */
function tracked(label: string, answers: Array<{ label: string; at: number; decision: Decision }>, decision: Promise<Decision>): Promise<void> {
  return decision.then((d) => {
    answers.push({ label, at: performance.now(), decision: d });
  });
}

test('reset with waiters booked in two processes: the burst pays them first, in order; the next take queues behind them', async () => {
  await twoProcesses('reset-waiters', async (a, b) => {
    // The burst is spent at the first of these takes at the earliest: no refill is due before a second after this.
    const spentFrom = performance.now();
    for (let i = 0; i < LIMIT.burst; i++) expect((await a.take('k')).allowed).toBe(true);
    const answers: Array<{ label: string; at: number; decision: Decision }> = [];
    const waiting: Array<Promise<void>> = [];
    // Six waiters in A, then two in B, each group booked before the next arrives (turns 1 s apart).
    for (let i = 1; i <= 6; i++) waiting.push(tracked(`a${i}`, answers, a.take('k')));
    await waitFor(async () => (await bookedWaiters('reset-waiters', 'k')) === 6, 5_000, "A's 6 waiters booked");
    for (let i = 1; i <= 2; i++) waiting.push(tracked(`b${i}`, answers, b.take('k')));
    await waitFor(async () => (await bookedWaiters('reset-waiters', 'k')) === 8, 5_000, "B's 2 waiters booked behind them");
    expect(answers).toEqual([]);

    await b.reset('k');
    const resetAt = performance.now();
    // A take right after the reset, in the process that reset: it goes behind the 8.
    waiting.push(tracked('next', answers, b.take('k')));
    await Promise.all(waiting);

    expect(answers.map((x) => x.label)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'b2', 'next']);
    expect(answers.every((x) => x.decision.allowed)).toBe(true);
    const servedAt = (label: string): number => answers.find((x) => x.label === label)?.at ?? Number.NaN;
    const after = (label: string): number => servedAt(label) - resetAt;
    const sinceSpent = (label: string): number => servedAt(label) - spentFrom;
    console.log(`[reset-with-waiters] reset ${Math.round(resetAt - spentFrom)} ms after the burst was spent; served after the reset (ms): ${answers.map((x) => `${x.label} ${Math.round(after(x.label))}`).join(', ')}`);
    // The full burst (4) paid A's first four at once: before, the reset removed the znode, they kept
    // their turns (1 to 4 s away), and 'next' took a token of the new burst ahead of all eight.
    expect(after('a4')).toBeLessThan(700);
    // The others still wait for the refill, one a second, in their order: a5 a second after the burst
    // was spent, 'next' (behind a5, a6, b1, b2) five. Measured from the reset these are not fixed: the
    // refill while the waiters were booked and the reset written counts (a5 came 884 ms after the
    // reset in one run, so a reset 400 ms later would have failed a bound of 600 ms from it).
    expect(sinceSpent('a5')).toBeGreaterThan(1000 - 100);
    expect(sinceSpent('next')).toBeGreaterThan(5 * 1000 - 100);
  });
});

test('reset while waiters paid already are held by their order grace: the burst goes to the unpaid ones', async () => {
  await twoProcesses(
    'reset-grace',
    async (a, b) => {
      // 7 takes at once with a 1 s order grace: the first goes directly, the burst's other 3 tokens
      // pay the next 3 waiters, which stay in the book until their grace ends; the last 3 are owed.
      const started = performance.now();
      const answers: Array<{ label: string; at: number; decision: Decision }> = [];
      const waiting = Array.from({ length: 7 }, (_, i) => tracked(`a${i}`, answers, a.take('k')));
      await waitFor(async () => (await bookedWaiters('reset-grace', 'k')) >= 6, 5_000, 'the waiters booked');
      expect(answers.filter((x) => x.label !== 'a0')).toEqual([]);
      await b.reset('k');
      await Promise.all(waiting);
      const served = answers.map((x) => Math.round(x.at - started));
      console.log(`[reset-with-waiters] order grace 1 s, reset after the booking: served at ${served.join(', ')} ms`);
      expect(answers.every((x) => x.decision.allowed)).toBe(true);
      expect(answers.map((x) => x.label)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
      // A full burst of 4 on top of what was paid covers all 7: every one is served when its grace
      // ends (about 1 s). Before, the reset counted the paid ones again and added about 1 token:
      // the last three waited until 1.3, 2.3 and 3.3 s.
      expect(Math.max(...served)).toBeLessThan(1_600);
    },
    1_000,
  );
});

test('reset with nobody waiting removes the znode: the key is full again for every process', async () => {
  await twoProcesses('reset-idle', async (a, b) => {
    for (let i = 0; i < LIMIT.burst; i++) expect((await a.take('k', { cost: 1 })).allowed).toBe(true);
    await waitFor(() => books.raw.exists(books.bucket('reset-idle', 'k')), 5_000, 'the bucket written');
    await b.reset('k');
    expect(await books.raw.exists(books.bucket('reset-idle', 'k'))).toBe(false);
    const taken = await b.take('k', { cost: LIMIT.burst });
    expect(taken.allowed).toBe(true);
    expect(taken.waitedMs).toBeLessThan(500);
  });
});
