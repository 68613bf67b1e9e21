// Issue 3: "a decision never hangs; within unavailableAfter the limiter applies onUnavailable", also
// when the wait is split: a decision that waited for a lost connection, which then came back to a
// server that does not answer, is still decided within unavailableAfter of its start.

import { createLimiter, ZooKeeperStore, type Decision } from '../../src/index.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { standaloneForFile } from './helpers/cluster.js';
import { FaultProxy } from './helpers/fault-proxy.js';

jest.setTimeout(60_000);

const UNAVAILABLE_AFTER_MS = 1_000;
/** Timer and event-loop slack on a loaded 2-core machine. */
const SLACK_MS = 250;

const zk = standaloneForFile('t-decision-deadline', 27610, 'deadline');
const { root } = zk;

/** A store and limiter behind a stalling proxy, closed (with the proxy) after `run`. */
async function withStore(
  name: string,
  limit: { rate: number; interval?: string; burst: number; queue?: { maxSize: number; maxWait: string } },
  run: (ctx: { proxy: FaultProxy; store: ZooKeeperStore; limiter: ReturnType<typeof createLimiter> }) => Promise<void>,
  onUnavailable: 'local' | 'open' | 'closed' = 'local',
): Promise<void> {
  const proxy = await FaultProxy.inFrontOf(zk.connect);
  const store = new ZooKeeperStore({ connect: proxy.connect, root, sessionTimeout: '10s', unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms`, onUnavailable });
  const limiter = createLimiter({ ...limit, store, name });
  try {
    await store.ready();
    await run({ proxy, store, limiter });
  } finally {
    await limiter.close();
    await store.close();
    await proxy.close();
  }
}

/**
 * Cuts the connection, starts `decide` 200 ms into the outage, brings the server back stalling
 * 300 ms later (it answers the store's health check, then nothing from its first read on), and
 * returns the decision and how long it took.
 */
async function decideAcrossAStall(proxy: FaultProxy, store: ZooKeeperStore, decide: () => Promise<Decision>, label: string, comeBack = (): void => proxy.stall()): Promise<{ decision: Decision; tookMs: number }> {
  proxy.down();
  await waitFor(() => !store.stats().available, 5_000, 'the store sees the connection gone');
  const downAt = performance.now();
  await sleep(200);
  const started = performance.now();
  // Timed when it settles: read after the wait for the store below, a decision made while that
  // wait polled would be timed up to a poll (and its event-loop lag) late.
  const pending = decide().then((decision) => ({ decision, tookMs: performance.now() - started }));
  await sleep(300);
  comeBack();
  await waitFor(() => store.stats().available, 5_000, 'the store connected again');
  const availableAfterMs = performance.now() - downAt;
  const { decision, tookMs } = await pending;
  process.stdout.write(
    `[decision-deadline] ${label}: began 200 ms into the outage, the store was available again ${availableAfterMs.toFixed(0)} ms into it; ` +
      `decided after ${tookMs.toFixed(0)} ms: allowed ${decision.allowed}, reason ${decision.reason ?? '-'}\n`,
  );
  // The connection did come back while the decision waited.
  expect(availableAfterMs).toBeLessThan(200 + UNAVAILABLE_AFTER_MS);
  expect(proxy.forwarded).toBeGreaterThanOrEqual(2);
  return { decision, tookMs };
}

test('a take that waited for a lost connection is decided within unavailableAfter of its start, though the connection came back to a server that does not answer', async () => {
  await withStore('deadline-take', { rate: 10, burst: 1 }, async ({ proxy, store, limiter }) => {
    const { decision, tookMs } = await decideAcrossAStall(proxy, store, () => limiter.take('fresh'), 'take');
    // Decided by the local fallback ('local'), within unavailableAfter.
    expect(decision.allowed).toBe(true);
    expect(tookMs).toBeLessThan(UNAVAILABLE_AFTER_MS + SLACK_MS);
  });
});

test('a take the fallback refuses, which then books a place in the queue, is decided within unavailableAfter of its start too (the booking does not wait again)', async () => {
  // Negligible refill: the shared burst of 1 is spent while ZooKeeper answers, the local
  // fallback's burst of 1 during a first outage; in the second, the take is refused locally and
  // the queue is asked for a place, which the fallback's empty bucket cannot give within maxWait.
  await withStore('deadline-queue', { rate: 1, interval: '1m', burst: 1, queue: { maxSize: 10, maxWait: '5s' } }, async ({ proxy, store, limiter }) => {
    expect((await limiter.take('k')).allowed).toBe(true);
    proxy.down();
    await waitFor(() => !store.stats().available, 5_000, 'the first outage seen');
    await sleep(UNAVAILABLE_AFTER_MS + 200);
    expect((await limiter.take('k')).allowed).toBe(true);
    proxy.forward();
    await waitFor(() => store.stats().available, 10_000, 'the store back after the first outage');

    const { decision, tookMs } = await decideAcrossAStall(proxy, store, () => limiter.take('k'), 'take then queue booking');
    expect(decision.allowed).toBe(false);
    expect(decision.reason).not.toBe('unavailable');
    expect(tookMs).toBeLessThan(UNAVAILABLE_AFTER_MS + SLACK_MS);
  });
});


test.each(['local', 'open'] as const)("a take answered at its deadline by '%s' adds no token to its lease when nothing came from ZooKeeper (the bound holds once it is back)", async (onUnavailable) => {
  // Burst 2, one token a minute: the shared bucket is empty after the first take (cost 2) for the rest
  // of the test; the local fallback ('local') has 2 tokens of its own, so a second fallback take
  // would succeed too.
  await withStore(
    `deadline-mint-${onUnavailable}`,
    { rate: 1, interval: '1m', burst: 2 },
    async ({ proxy, store, limiter }) => {
      expect((await limiter.take('k', { cost: 2 })).allowed).toBe(true);
      const { decision, tookMs } = await decideAcrossAStall(proxy, store, () => limiter.take('k'), `second take ('${onUnavailable}')`);
      expect(tookMs).toBeLessThan(UNAVAILABLE_AFTER_MS + SLACK_MS);
      expect(decision.allowed).toBe(true);
      // The stalled call fails after its own timeout; then the server forwards again and the store comes back.
      await sleep(UNAVAILABLE_AFTER_MS + 200);
      proxy.forward();
      await waitFor(() => store.stats().available && store.stats().tokensLeased !== undefined, 20_000, 'the store back on a forwarding connection');
      const third = await limiter.take('k');
      process.stdout.write(`[decision-deadline] '${onUnavailable}': third take with ZooKeeper back and its bucket empty: allowed ${third.allowed}, reason ${third.reason ?? '-'}\n`);
      expect(third.allowed).toBe(false);
    },
    onUnavailable,
  );
});

test("a server that answers, slowly, after the connection came back: the late decision falls back alone, and the store stays in shared mode", async () => {
  await withStore(
    'deadline-slow',
    { rate: 100, burst: 100 },
    async ({ proxy, store, limiter }) => {
      // The bucket exists already; a take of 50 needs a lease fetch: a read and a write, 400 ms each
      // from the first read on. The read comes back within the decision's time, the write after it.
      expect((await limiter.take('k')).allowed).toBe(true);
      const events: string[] = [];
      store.on('degraded', () => events.push('degraded'));
      const { decision, tookMs } = await decideAcrossAStall(proxy, store, () => limiter.take('k', { cost: 50 }), 'slow server', () => proxy.slow(400));
      expect(tookMs).toBeLessThan(UNAVAILABLE_AFTER_MS + SLACK_MS);
      expect(decision.reason).toBe('unavailable');
      // The server answered the read: no outage declared, and the write lands later within its own timeout.
      expect(store.stats().available).toBe(true);
      await sleep(600);
      process.stdout.write(`[decision-deadline] slow server: 600 ms after the decision: available ${store.stats().available}, events ${JSON.stringify(events)}\n`);
      expect(store.stats().available).toBe(true);
      expect(events).toEqual([]);
    },
    'closed',
  );
});
