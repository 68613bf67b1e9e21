// A refund on a leased bucket is capped at burst as on every store: the lease and the shared bucket
// together never hold more than burst (before: the refunded tokens sat in the lease beside a shared
// bucket that had refilled, or been reset, to full, and 20 takes at once were admitted at burst 10).

import { createLimiter, ZooKeeperStore } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from './helpers/cluster.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-refund-cap', 27900, 'refund-cap');
const { root } = zk;

/** How many of `count` takes of `key`, made one after another at once, are admitted. */
async function admitted(limiter: ReturnType<typeof createLimiter>, key: string, count: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < count; i++) if ((await limiter.take(key)).allowed) allowed++;
  return allowed;
}

test('tokens refunded after the shared bucket refilled to full are not added on top of it', async () => {
  const store = new ZooKeeperStore({ connect: zk.connect, root, sessionTimeout: '10s' });
  const limiter = createLimiter({ rate: 10, interval: '1s', burst: 10, store, name: 'refund-refilled' });
  try {
    await store.ready();
    expect(await admitted(limiter, 'k', 10)).toBe(10);
    // Long requests: by the time they are refunded, the shared bucket is full again (1 s of refill).
    await waitFor(async () => (await limiter.peek('k')).remaining >= 10, 10_000, 'the bucket refilled');
    for (let i = 0; i < 10; i++) await limiter.refund('k');
    // At most burst, plus the refill of the moments the takes last (a token per 100 ms).
    const started = performance.now();
    const allowed = await admitted(limiter, 'k', 30);
    const refill = Math.floor(((performance.now() - started) / 1000) * 10);
    process.stdout.write(`[refund-cap] refilled: ${allowed} of 30 admitted at burst 10 (refill meanwhile ${refill})\n`);
    expect(allowed).toBeLessThanOrEqual(10 + refill);
  } finally {
    await limiter.close();
    await store.close();
  }
});

test('tokens refunded after a reset are not added on top of the full bucket', async () => {
  const store = new ZooKeeperStore({ connect: zk.connect, root, sessionTimeout: '10s' });
  // Ten tokens an hour: no refill during the test.
  const limiter = createLimiter({ rate: 10, interval: '1h', burst: 10, store, name: 'refund-reset' });
  try {
    await store.ready();
    expect(await admitted(limiter, 'k', 10)).toBe(10);
    await limiter.reset('k');
    for (let i = 0; i < 10; i++) await limiter.refund('k');
    const allowed = await admitted(limiter, 'k', 30);
    process.stdout.write(`[refund-cap] reset: ${allowed} of 30 admitted at burst 10\n`);
    expect(allowed).toBe(10);
  } finally {
    await limiter.close();
    await store.close();
  }
});
