// flowgateMetrics() itself: options and their errors, one set per registry, observe/unobserve/close, shared names,
// and the queue depth read from the limiter.

import { Registry, register as globalRegistry } from 'prom-client';
import { DEFAULT_WAIT_BUCKETS, flowgateMetrics, type FlowgateMetrics, type FlowgateMetricsOptions } from '../../adapters/metrics/index.js';
import { createConcurrencyLimiter, createLimiter, FlowgateArgumentError, FlowgateConfigError, FlowgateError, type ConcurrencyLimiter, type Limiter, type LimiterOptions } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { seriesOf, valueOf } from './exposition.js';

const DECISIONS = 'flowgate_decisions_total';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function newMetrics(options: FlowgateMetricsOptions = {}): FlowgateMetrics {
  const metrics = flowgateMetrics({ registry: new Registry(), ...options });
  cleanups.push(() => metrics.close());
  return metrics;
}

function newLimiter(options: LimiterOptions): Limiter {
  const limiter = createLimiter(options);
  cleanups.push(() => limiter.close());
  return limiter;
}

async function takes(limiter: Limiter, n: number, key = 'k'): Promise<void> {
  for (let i = 0; i < n; i++) await limiter.take(key);
}

const admitted = (text: string, limiter: string): number | undefined => valueOf(text, DECISIONS, { limiter, result: 'admitted', reason: '' });

describe('options', () => {
  test.each([
    ['register (a prom-client name)', { register: new Registry() }, 'register', /invalid option register="\[object Registry\]": unknown option \(did you mean 'registry'\?\)/],
    ['Prefix', { Prefix: 'x_' }, 'Prefix', /did you mean 'prefix'/],
    ['a registry that is not one', { registry: {} }, 'registry', /must be a prom-client Registry/],
    ['a prefix with a dash', { prefix: 'flow-gate_' }, 'prefix', /letters, digits/],
    ['a prefix starting with a digit', { prefix: '9flowgate_' }, 'prefix', /does not start with a digit/],
    ['no buckets', { buckets: [] }, 'buckets', /non-empty/],
    ['buckets not increasing', { buckets: [0.1, 0.1] }, 'buckets', /each larger/],
    ['a bucket of 0', { buckets: [0, 1] }, 'buckets', /> 0/],
    ['an infinite bucket', { buckets: [1, Infinity] }, 'buckets', /finite/],
  ])('%s is refused with FlowgateConfigError naming the option', (_what, options, option, message) => {
    const registry = new Registry();
    const attempt = (): unknown => flowgateMetrics({ registry, ...(options as FlowgateMetricsOptions) });
    expect(attempt).toThrow(FlowgateConfigError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_FLOWGATE_CONFIG', option });
    }
    // Nothing was registered by the failed attempt.
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  test('prefix and buckets shape the names and the histogram', async () => {
    const metrics = newMetrics({ prefix: 'api_rl_', buckets: [0.1, 1] });
    const limiter = newLimiter({ rate: 10, burst: 1, queue: true, name: 'p' });
    metrics.observe(limiter);
    await takes(limiter, 2);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('flowgate_');
    expect(valueOf(text, 'api_rl_decisions_total', { limiter: 'p', result: 'admitted', reason: '' })).toBe(2);
    expect(seriesOf(text, 'api_rl_queue_wait_seconds_bucket', { limiter: 'p', result: 'served' }).map((s) => s.labels.le)).toEqual(['0.1', '1', '+Inf']);
  });

  test("the default registry is prom-client's global register; the default buckets run from 5 ms to 30 s", () => {
    const metrics = flowgateMetrics();
    try {
      expect(metrics.registry).toBe(globalRegistry);
      expect(globalRegistry.getSingleMetric('flowgate_decisions_total')).toBeDefined();
    } finally {
      metrics.close();
    }
    expect(globalRegistry.getSingleMetric('flowgate_decisions_total')).toBeUndefined();
    expect(DEFAULT_WAIT_BUCKETS[0]).toBe(0.005);
    expect(DEFAULT_WAIT_BUCKETS.at(-1)).toBe(30);
  });
});

test('every metric is registered with its type and help; counters and gauges without labels start at 0', async () => {
  const metrics = newMetrics();
  const text = await metrics.registry.metrics();
  const types = Object.fromEntries([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
  expect(types).toEqual({
    flowgate_decisions_total: 'counter',
    flowgate_queue_depth: 'gauge',
    flowgate_queue_wait_seconds: 'histogram',
    flowgate_concurrency_decisions_total: 'counter',
    flowgate_concurrency_in_flight: 'gauge',
    flowgate_zookeeper_operations_total: 'counter',
    flowgate_zookeeper_errors_total: 'counter',
    flowgate_tokens_leased_total: 'counter',
    flowgate_fallback_decisions_total: 'counter',
    flowgate_degraded: 'gauge',
    flowgate_cluster_members: 'gauge',
    flowgate_bucket_writes_total: 'counter',
    flowgate_bucket_conflicts_total: 'counter',
  });
  expect([...text.matchAll(/^# HELP (\S+) \S/gm)]).toHaveLength(13);
  expect(valueOf(text, 'flowgate_degraded')).toBe(0);
  expect(valueOf(text, 'flowgate_bucket_writes_total')).toBe(0);
});

test('one set per registry and prefix: a second one throws until the first is closed; another prefix may share the registry', () => {
  const registry = new Registry();
  const first = flowgateMetrics({ registry });
  expect(() => flowgateMetrics({ registry })).toThrow(/already holds a metric named flowgate_decisions_total/);
  const other = flowgateMetrics({ registry, prefix: 'other_' });
  first.close();
  first.close();
  const again = flowgateMetrics({ registry });
  // Two prefixes, 13 metrics each.
  expect(registry.getMetricsAsArray()).toHaveLength(26);
  again.close();
  other.close();
  expect(registry.getMetricsAsArray()).toHaveLength(0);
});

test('a limiter observed twice (directly and through a middleware-like holder) is counted once', async () => {
  const metrics = newMetrics();
  const limiter = newLimiter({ rate: 10, burst: 10, name: 'twice' });
  metrics.observe(limiter).observe(limiter).observe({ limiter });
  await takes(limiter, 3);
  expect(admitted(await metrics.registry.metrics(), 'twice')).toBe(3);
});

test('limiters of one name share their series; the admitted series exists (at 0) from the moment a limiter is observed', async () => {
  const metrics = newMetrics();
  const a = newLimiter({ rate: 10, burst: 2, name: 'shared' });
  const b = newLimiter({ rate: 10, burst: 2, name: 'shared' });
  metrics.observe(a).observe(b);
  expect(admitted(await metrics.registry.metrics(), 'shared')).toBe(0);
  await takes(a, 3);
  await takes(b, 4);
  const text = await metrics.registry.metrics();
  expect(admitted(text, 'shared')).toBe(4);
  expect(valueOf(text, DECISIONS, { limiter: 'shared', result: 'rejected', reason: 'limited' })).toBe(3);
});

test('scrapes in between do not count anything twice (the counters follow the running totals)', async () => {
  const metrics = newMetrics();
  const limiter = newLimiter({ rate: 10, burst: 100, name: 'steady' });
  metrics.observe(limiter);
  for (let round = 1; round <= 3; round++) {
    await takes(limiter, 5);
    expect(admitted(await metrics.registry.metrics(), 'steady')).toBe(5 * round);
    // getMetricsAsJSON() collects too.
    const json = await metrics.registry.getMetricsAsJSON();
    const decisions = json.find((m) => m.name === DECISIONS);
    expect(decisions?.values.find((v) => v.labels.result === 'admitted')?.value).toBe(5 * round);
  }
});

test('unobserve stops counting and keeps the counts so far; close removes every listener and refuses later observe calls', async () => {
  const metrics = flowgateMetrics({ registry: new Registry() });
  const limiter = newLimiter({ rate: 10, burst: 100, name: 'gone' });
  const events = ['admit', 'reject', 'enqueue', 'dequeue', 'timeout', 'abort'] as const;
  const before = events.map((e) => limiter.listenerCount(e));
  metrics.observe(limiter);
  await takes(limiter, 2);
  metrics.unobserve(limiter).unobserve(limiter);
  await takes(limiter, 2);
  expect(admitted(await metrics.registry.metrics(), 'gone')).toBe(2);
  expect(events.map((e) => limiter.listenerCount(e))).toEqual(before);

  metrics.observe(limiter);
  metrics.close();
  expect(events.map((e) => limiter.listenerCount(e))).toEqual(before);
  expect(metrics.registry.getMetricsAsArray()).toHaveLength(0);
  expect(() => metrics.observe(limiter)).toThrow(FlowgateError);
  expect(() => metrics.observe(limiter)).toThrow(expect.objectContaining({ code: 'ERR_FLOWGATE_CLOSED' }));
  expect(() => metrics.unobserve(limiter)).not.toThrow();
});

test('observe refuses what is not a limiter, a holder of one or the NestJS limiters service', () => {
  const metrics = newMetrics();
  for (const bad of [undefined, null, 42, 'limiter', {}, { limiter: {} }, () => undefined]) {
    expect(() => metrics.observe(bad as never)).toThrow(FlowgateArgumentError);
  }
  expect(() => metrics.observe({} as never)).toThrow(/must be a flowgate Limiter or ConcurrencyLimiter, something with a \.limiter or \.concurrencyLimiter/);
  // A concurrency-only middleware whose limit is not a ConcurrencyLimiter.
  expect(() => metrics.observe({ limiter: undefined, concurrencyLimiter: {} } as never)).toThrow(FlowgateArgumentError);
});

test('concurrency limits: acquires by result and reason, and permits held now; a concurrency-only middleware counts too', async () => {
  const metrics = newMetrics();
  const uploads = createConcurrencyLimiter({ concurrency: 1, name: 'uploads' });
  cleanups.push(() => uploads.close());
  // The shape of a middleware with a concurrency limit only.
  const middleware = { limiter: undefined, concurrencyLimiter: uploads };
  metrics.observe(middleware);
  const first = await uploads.acquire('k');
  await uploads.acquire('k');
  await uploads.acquire('other');
  let text = await metrics.registry.metrics();
  expect(valueOf(text, 'flowgate_concurrency_decisions_total', { limiter: 'uploads', result: 'acquired', reason: '' })).toBe(2);
  expect(valueOf(text, 'flowgate_concurrency_decisions_total', { limiter: 'uploads', result: 'rejected', reason: 'concurrency' })).toBe(1);
  expect(valueOf(text, 'flowgate_concurrency_in_flight', { limiter: 'uploads' })).toBe(2);
  first.permit?.release();
  first.permit?.release();
  text = await metrics.registry.metrics();
  expect(valueOf(text, 'flowgate_concurrency_in_flight', { limiter: 'uploads' })).toBe(1);
  // Unobserved: no more counting.
  metrics.unobserve(middleware);
  await uploads.acquire('k');
  text = await metrics.registry.metrics();
  expect(valueOf(text, 'flowgate_concurrency_decisions_total', { limiter: 'uploads', result: 'acquired', reason: '' })).toBe(2);
  expect(uploads.listenerCount('acquire')).toBe(0);
});

test('permits in flight count what was acquired while watched: none left behind by unobserve, none taken off by a permit acquired before observe', async () => {
  const metrics = newMetrics();
  const pool = createConcurrencyLimiter({ concurrency: 10, name: 'pool' });
  cleanups.push(() => pool.close());
  const inFlight = async (): Promise<number | undefined> => valueOf(await metrics.registry.metrics(), 'flowgate_concurrency_in_flight', { limiter: 'pool' });
  const before = await pool.acquire('k');
  metrics.observe(pool);
  const b = await pool.acquire('k');
  const c = await pool.acquire('k');
  expect(await inFlight()).toBe(2);
  // Acquired before the watch: its release does not take one of b and c off.
  before.permit?.release();
  expect(await inFlight()).toBe(2);
  b.permit?.release();
  expect(await inFlight()).toBe(1);
  // Unwatched: c, still held, no longer counts, and its release later changes nothing.
  metrics.unobserve(pool);
  expect(await inFlight()).toBe(0);
  c.permit?.release();
  metrics.observe(pool);
  await pool.acquire('k');
  expect(await inFlight()).toBe(1);
});

test('a limiter service (the NestJS FlowgateLimiters shape): its limiters at once, later ones as they are made; unobserve stops listening', async () => {
  const metrics = newMetrics();
  const defaultLimiter = newLimiter({ rate: 10, burst: 10, name: 'default' });
  class Catalog {
    private readonly all: Limiter[] = [defaultLimiter];
    private readonly listeners = new Set<(limiter: Limiter) => void>();
    limiters(): Limiter[] {
      return [...this.all];
    }
    onLimiter(listener: (limiter: Limiter) => void): () => void {
      this.listeners.add(listener);
      return () => void this.listeners.delete(listener);
    }
    listening(): number {
      return this.listeners.size;
    }
    make(name: string): { limiter: Limiter } {
      const limiter = newLimiter({ rate: 10, burst: 1, name });
      this.all.push(limiter);
      for (const listener of this.listeners) listener(limiter);
      return { limiter };
    }
  }
  const catalog = new Catalog();
  metrics.observe(catalog).observe(catalog);
  expect(catalog.listening()).toBe(1);
  const later = catalog.make('later');
  await takes(defaultLimiter, 1);
  await takes(later.limiter, 2);
  let text = await metrics.registry.metrics();
  expect(admitted(text, 'default')).toBe(1);
  expect(admitted(text, 'later')).toBe(1);
  expect(valueOf(text, DECISIONS, { limiter: 'later', result: 'rejected', reason: 'limited' })).toBe(1);

  metrics.unobserve(catalog);
  expect(catalog.listening()).toBe(0);
  await takes(defaultLimiter, 1);
  await takes(later.limiter, 1);
  await takes(catalog.make('unseen').limiter, 1);
  text = await metrics.registry.metrics();
  expect(admitted(text, 'default')).toBe(1);
  expect(valueOf(text, DECISIONS, { limiter: 'later', result: 'rejected', reason: 'limited' })).toBe(1);
  expect(admitted(text, 'unseen')).toBeUndefined();
});

test('a limiter observed through two sources stays watched until both are unobserved (the service and the limiter itself; a middleware and its limiter)', async () => {
  const metrics = newMetrics();
  const shared = newLimiter({ rate: 100, burst: 100, name: 'shared' });
  const catalog = { limiters: () => [shared], onLimiter: () => () => undefined };
  const middleware = { limiter: shared };
  metrics.observe(shared).observe(catalog).observe(middleware);
  metrics.unobserve(catalog);
  await takes(shared, 1);
  metrics.unobserve(middleware);
  await takes(shared, 1);
  expect(admitted(await metrics.registry.metrics(), 'shared')).toBe(2);
  metrics.unobserve(shared);
  await takes(shared, 1);
  expect(admitted(await metrics.registry.metrics(), 'shared')).toBe(2);
  expect(shared.listenerCount('admit')).toBe(0);
});

test('a limiter service with concurrency limits: listed ones at once, later ones as they are made; unobserve stops those only it gave', async () => {
  const metrics = newMetrics();
  const newPool = (name: string): ConcurrencyLimiter => {
    const pool = createConcurrencyLimiter({ concurrency: 1, name });
    cleanups.push(() => pool.close());
    return pool;
  };
  const rate = newLimiter({ rate: 10, burst: 10, name: 'default' });
  const pools = [newPool('default')];
  const listeners = new Set<(limiter: ConcurrencyLimiter) => void>();
  const catalog = {
    limiters: (): Limiter[] => [rate],
    onLimiter: () => () => undefined,
    concurrencyLimiters: (): ConcurrencyLimiter[] => [...pools],
    onConcurrencyLimiter(listener: (limiter: ConcurrencyLimiter) => void): () => void {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    make(name: string): ConcurrencyLimiter {
      const pool = newPool(name);
      pools.push(pool);
      for (const listener of listeners) listener(pool);
      return pool;
    },
  };
  const acquired = (text: string, limiter: string): number | undefined => valueOf(text, 'flowgate_concurrency_decisions_total', { limiter, result: 'acquired', reason: '' });
  const rejected = (text: string, limiter: string): number | undefined =>
    valueOf(text, 'flowgate_concurrency_decisions_total', { limiter, result: 'rejected', reason: 'concurrency' });
  metrics.observe(catalog).observe(catalog);
  expect(listeners.size).toBe(1);
  const exports = catalog.make('exports');
  // Also observed on its own: it stays watched when the service is unobserved.
  metrics.observe(exports);
  const held = [await pools[0]!.acquire('k'), await exports.acquire('k')];
  await pools[0]!.acquire('k');
  await exports.acquire('k');
  await takes(rate, 1);
  let text = await metrics.registry.metrics();
  expect(admitted(text, 'default')).toBe(1);
  for (const name of ['default', 'exports']) {
    expect(acquired(text, name)).toBe(1);
    expect(rejected(text, name)).toBe(1);
    expect(valueOf(text, 'flowgate_concurrency_in_flight', { limiter: name })).toBe(1);
  }

  metrics.unobserve(catalog);
  expect(listeners.size).toBe(0);
  for (const decision of held) decision.permit?.release();
  await pools[0]!.acquire('k');
  await exports.acquire('k');
  const unseen = catalog.make('unseen');
  await unseen.acquire('k');
  text = await metrics.registry.metrics();
  expect(acquired(text, 'default')).toBe(1);
  expect(pools[0]!.listenerCount('acquire')).toBe(0);
  expect(acquired(text, 'exports')).toBe(2);
  expect(valueOf(text, 'flowgate_concurrency_in_flight', { limiter: 'exports' })).toBe(1);
  expect(acquired(text, 'unseen')).toBeUndefined();
  metrics.unobserve(exports);
  expect(exports.listenerCount('acquire')).toBe(0);
});

test('queue depth from Limiter.queueStats(): up with waiters, down as they are served or abort, 0 after close; waits observed by result', async () => {
  const metrics = newMetrics();
  const limiter = newLimiter({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '10s' }, name: 'evented' });
  metrics.observe(limiter);
  const depth = async (): Promise<number | undefined> => valueOf(await metrics.registry.metrics(), 'flowgate_queue_depth', { limiter: 'evented' });

  await limiter.take('a');
  await limiter.take('b');
  const served = [limiter.take('a'), limiter.take('a')];
  const leaving = new AbortController();
  const aborted = limiter.take('b', { signal: leaving.signal });
  await waitFor(async () => (await depth()) === 3, 5_000, 'depth 3');
  leaving.abort();
  expect(await aborted).toMatchObject({ allowed: false, reason: 'aborted' });
  expect(await depth()).toBe(2);
  expect((await Promise.all(served)).map((d) => d.allowed)).toEqual([true, true]);
  expect(await depth()).toBe(0);

  const parked = [limiter.take('c'), limiter.take('c')];
  await waitFor(async () => (await depth()) === 1, 5_000, 'depth 1');
  await limiter.close();
  await Promise.all(parked);
  expect(await depth()).toBe(0);
  const text = await metrics.registry.metrics();
  expect(valueOf(text, 'flowgate_queue_wait_seconds_count', { limiter: 'evented', result: 'served' })).toBe(2);
  expect(valueOf(text, 'flowgate_queue_wait_seconds_count', { limiter: 'evented', result: 'aborted' })).toBe(1);
  expect(valueOf(text, DECISIONS, { limiter: 'evented', result: 'rejected', reason: 'closed' })).toBe(1);
});
