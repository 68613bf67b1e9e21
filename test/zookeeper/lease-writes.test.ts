// Leases on a real ensemble: a limit far above the load, served from leases of up to maxLeaseWindow of demand, costs few writes.

import { createLimiter, ZooKeeperStore, type Limiter } from '../../src/index.js';
import { sharedOrPrivateEnsemble } from './helpers/cluster.js';
import { removeRoot } from './helpers/raw-client.js';
import { sleep, uniqueRoot } from '../helpers/wait.js';

jest.setTimeout(60_000);

let ensemble: { connect: string; stop(): void };
const root = uniqueRoot('lease-writes');
const stores: ZooKeeperStore[] = [];
const limiters: Limiter[] = [];

beforeAll(() => {
  ensemble = sharedOrPrivateEnsemble('t-lease-writes', 24290);
});

afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  await Promise.all(stores.map((s) => s.close()));
  await removeRoot(ensemble.connect, root).catch(() => undefined);
  ensemble.stop();
});

const LOAD_MS = 4_000;
const TAKES_PER_TICK = 5;

/** Takes on one key, TAKES_PER_TICK every ms or so for LOAD_MS; resolves with the count allowed and taken. */
async function load(limiter: Limiter, key: string): Promise<{ allowed: number; taken: number }> {
  let allowed = 0;
  let taken = 0;
  const end = performance.now() + LOAD_MS;
  while (performance.now() < end) {
    const decisions = await Promise.all(Array.from({ length: TAKES_PER_TICK }, () => limiter.take(key)));
    taken += decisions.length;
    allowed += decisions.filter((d) => d.allowed).length;
    await sleep(1);
  }
  return { allowed, taken };
}

test('a limit far above the load costs few writes: chunks grow to maxLeaseWindow of demand while the bucket is plentiful', async () => {
  const variants = [
    { label: 'maxLeaseWindow = leaseWindow (250ms)', options: { maxLeaseWindow: '250ms' } },
    { label: 'default (maxLeaseWindow 500ms)', options: {} },
    { label: 'maxLeaseWindow 2s', options: { maxLeaseWindow: '2s' } },
  ];
  const runs = await Promise.all(
    variants.map(async ({ label, options }, i) => {
      const store = new ZooKeeperStore({ connect: ensemble.connect, root: `${root}/${i}`, ...options });
      stores.push(store);
      await store.ready(15_000);
      const limiter = createLimiter({ rate: 1e6, interval: '1s', store, name: `far-above-${i}` });
      limiters.push(limiter);
      const before = store.stats().writes;
      const result = await load(limiter, 'k');
      return { label, ...result, writes: store.stats().writes - before };
    }),
  );
  // eslint-disable-next-line no-console
  console.log(runs.map((r) => `${r.label}: ${r.writes} writes for ${r.taken} takes (${(r.writes / r.taken).toFixed(5)} per take)`).join('\n'));
  const [base, byDefault, long] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
  for (const run of runs) {
    expect(run.taken).toBeGreaterThan(1_000);
    expect(run.allowed).toBe(run.taken);
    expect(run.writes).toBeGreaterThan(0);
  }
  expect(byDefault.writes).toBeLessThan(base.writes);
  expect(long.writes).toBeLessThanOrEqual(12);
  expect(long.writes * 2).toBeLessThanOrEqual(base.writes);
});
