// A refund of a take that `onUnavailable` decided goes back to where the tokens came from, also when
// it comes after ZooKeeper is back: not into the lease, whose tokens are the shared bucket's (they
// would be given out twice). Through a proxy that cuts the connection and restores it.

import { createLimiter, ZooKeeperStore } from '../../src/index.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { standaloneForFile } from './helpers/cluster.js';
import { FaultProxy } from './helpers/fault-proxy.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-refund-outage', 27650, 'refund-outage');
const { root } = zk;

test.each(['local', 'open'] as const)("'%s': a take decided during an outage and refunded after it does not give the shared bucket's tokens a second time", async (onUnavailable) => {
  const proxy = await FaultProxy.inFrontOf(zk.connect);
  const store = new ZooKeeperStore({ connect: proxy.connect, root, sessionTimeout: '10s', unavailableAfter: '300ms', onUnavailable });
  // One token a minute, burst 1: after the first take the shared bucket is empty for the whole test.
  const limiter = createLimiter({ rate: 1, interval: '1m', burst: 1, store, name: `refund-${onUnavailable}` });
  try {
    await store.ready();
    expect((await limiter.take('k')).allowed).toBe(true);
    proxy.down();
    await waitFor(() => !store.stats().available, 5_000, 'the outage seen');
    await sleep(400);
    // Decided by the fallback: 'local' has its own burst of 1, 'open' admits.
    expect((await limiter.take('k')).allowed).toBe(true);
    proxy.forward();
    await waitFor(() => store.stats().available, 20_000, 'ZooKeeper back');
    // The request failed, say: its token is given back, after the outage.
    await limiter.refund('k', 1);
    const after = await limiter.take('k');
    process.stdout.write(`[refund-after-outage] '${onUnavailable}': take after the refund, shared bucket empty: allowed ${after.allowed}, reason ${after.reason ?? '-'}\n`);
    expect(after.allowed).toBe(false);
  } finally {
    await limiter.close();
    await store.close();
    await proxy.close();
  }
});
