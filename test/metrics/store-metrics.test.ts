// flowgate/metrics on real ZooKeeperStores: members, bucket writes and the stats() totals after takes on a shared
// server; the degraded gauge at 1 while a private standalone server is killed, back to 0 after its restart.

import { Registry } from 'prom-client';
import { flowgateMetrics, type FlowgateMetrics } from '../../adapters/metrics/index.js';
import { createLimiter, ZooKeeperStore, type ZooKeeperStoreOptions } from '../../src/index.js';
import { member, startCluster, type Cluster } from '../zookeeper/helpers/cluster.js';
import { removeRoot } from '../zookeeper/helpers/raw-client.js';
import { uniqueRoot, waitFor } from '../helpers/wait.js';
import { samples, valueOf } from './exposition.js';

jest.setTimeout(60_000);

/** The shared standalone server of scripts/test.sh, or a private one (plain `npx jest`). */
let shared: { connect: string; stop(): void };
/** A private standalone server that the degraded test kills and restarts. */
let own: Cluster | undefined;
const roots: Array<{ connect: string; root: string }> = [];
const cleanups: Array<() => unknown> = [];

beforeAll(() => {
  const connect = process.env.FLOWGATE_ZK_STANDALONE;
  shared = connect ? { connect, stop: () => undefined } : startCluster('t-metrics', 'standalone', 27440);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await Promise.all(roots.splice(0).map(({ connect, root }) => removeRoot(connect, root).catch(() => undefined)));
});

afterAll(() => {
  shared.stop();
  own?.stop();
});

function newMetrics(): FlowgateMetrics {
  const metrics = flowgateMetrics({ registry: new Registry() });
  cleanups.push(() => metrics.close());
  return metrics;
}

/** A store, closed after the test. */
function newStore(options: ZooKeeperStoreOptions): ZooKeeperStore {
  const store = new ZooKeeperStore(options);
  cleanups.push(() => store.close());
  return store;
}

const scrape = (metrics: FlowgateMetrics): Promise<string> => metrics.registry.metrics();

test('members, bucket writes and the store totals (operations, tokens leased) after takes through a limiter', async () => {
  const metrics = newMetrics();
  const root = uniqueRoot('metrics');
  roots.push({ connect: shared.connect, root });
  const store = newStore({ connect: shared.connect, root });
  const peer = newStore({ connect: shared.connect, root });
  metrics.observeStore(store);
  await Promise.all([store.ready(15_000), peer.ready(15_000)]);
  await waitFor(async () => valueOf(await scrape(metrics), 'flowgate_cluster_members') === 2, 10_000, 'the members gauge at 2');

  const limiter = createLimiter({ rate: 100, interval: '1s', burst: 100, store, name: 'zk-metrics' });
  cleanups.push(() => limiter.close());
  for (let i = 0; i < 20; i++) expect((await limiter.take(`user-${i % 4}`)).allowed).toBe(true);

  const text = await scrape(metrics);
  const stats = store.stats() as ReturnType<ZooKeeperStore['stats']> & Partial<Record<'operations' | 'errors' | 'tokensLeased', Record<string, number>>>;
  const writes = valueOf(text, 'flowgate_bucket_writes_total') as number;
  expect(writes).toBeGreaterThan(0);
  // The counter mirrors the store's own total (read at the scrape, so it may trail a later write).
  expect(writes).toBeLessThanOrEqual(stats.writes);
  expect(valueOf(text, 'flowgate_bucket_conflicts_total')).toBe(0);
  expect(valueOf(text, 'flowgate_degraded')).toBe(0);
  expect(valueOf(text, 'flowgate_cluster_members')).toBe(2);
  if (stats.operations !== undefined) {
    const ops = samples(text).filter((s) => s.name === 'flowgate_zookeeper_operations_total');
    expect(ops.length).toBeGreaterThan(0);
    expect(ops.every((s) => Object.keys(s.labels).join() === 'op' && s.value >= 0)).toBe(true);
    expect(ops.reduce((sum, s) => sum + s.value, 0)).toBeGreaterThan(0);
  }
  if (stats.tokensLeased !== undefined) {
    // 20 takes of cost 1 were served from leased tokens: at least 20 were leased.
    expect(valueOf(text, 'flowgate_tokens_leased_total', { limiter: 'zk-metrics' })).toBeGreaterThanOrEqual(20);
  }
  if (stats.errors !== undefined) {
    expect(samples(text).filter((s) => s.name === 'flowgate_zookeeper_errors_total').every((s) => Object.keys(s.labels).join() === 'type')).toBe(true);
  }
  // ZooKeeper answered every take: none was left to onUnavailable.
  expect(store.stats().fallbackDecisions).toEqual({});
  expect(samples(text).filter((s) => s.name === 'flowgate_fallback_decisions_total')).toEqual([]);
  // The bucket key is never a label.
  expect(text).not.toContain('user-');

  // A later scrape catches up with the store's total (background writes may add to it meanwhile).
  const before = store.stats().writes;
  const later = valueOf(await scrape(metrics), 'flowgate_bucket_writes_total');
  expect(later).toBeGreaterThanOrEqual(before);
  expect(later).toBeLessThanOrEqual(store.stats().writes);
});

test('the degraded gauge is 1 while the store cannot reach ZooKeeper, and 0 again once it is back', async () => {
  own = startCluster('t-metrics-degraded', 'standalone', 27450);
  const metrics = newMetrics();
  const store = newStore({ connect: own.connect, root: uniqueRoot('metrics'), unavailableAfter: '300ms' });
  metrics.observeStore(store);
  await store.ready(15_000);
  const degraded = async (): Promise<number | undefined> => valueOf(await scrape(metrics), 'flowgate_degraded');
  expect(await degraded()).toBe(0);

  await member(own, 1, 'kill');
  const downMs = await waitFor(async () => (await degraded()) === 1, 15_000, 'the degraded gauge at 1');
  await member(own, 1, 'restart');
  const upMs = await waitFor(async () => (await degraded()) === 0, 30_000, 'the degraded gauge back at 0');
  console.log(`degraded gauge: 1 after ${downMs.toFixed(0)} ms without ZooKeeper, 0 again ${upMs.toFixed(0)} ms after the restart`);
  expect(store.stats().available).toBe(true);
});

test('a store closed while degraded reports neither degraded nor members any more, and keeps its count of takes left to onUnavailable; unobserving a store not watched does nothing', async () => {
  const metrics = newMetrics();
  // Nothing listens on port 1: the store goes degraded once unavailable past its grace period.
  const store = new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '100ms' });
  metrics.observeStore(store);
  await waitFor(async () => valueOf(await scrape(metrics), 'flowgate_degraded') === 1, 10_000, 'the degraded gauge at 1');
  // Takes answered by onUnavailable ('local': this process alone, burst 3 of 3) are counted by limiter name.
  const limiter = createLimiter({ rate: 1, interval: '1m', burst: 3, store, name: 'zk-fallback' });
  const decided = [];
  for (let i = 0; i < 5; i++) decided.push((await limiter.take('k')).allowed);
  limiter.close();
  expect(decided).toEqual([true, true, true, false, false]);
  expect(store.stats().fallbackDecisions).toEqual({ 'zk-fallback': 5 });
  expect(valueOf(await scrape(metrics), 'flowgate_fallback_decisions_total', { limiter: 'zk-fallback' })).toBe(5);
  await store.close();
  const text = await scrape(metrics);
  expect(valueOf(text, 'flowgate_fallback_decisions_total', { limiter: 'zk-fallback' })).toBe(5);
  expect(valueOf(text, 'flowgate_degraded')).toBe(0);
  expect(valueOf(text, 'flowgate_cluster_members')).toBe(0);
  const other = new ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '100ms' });
  expect(() => metrics.unobserve(other)).not.toThrow();
  await other.close();
});
