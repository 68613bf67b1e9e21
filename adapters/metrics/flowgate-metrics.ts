// flowgateMetrics(): Prometheus metrics of flowgate limiters and ZooKeeper stores, registered with prom-client.

import { FlowgateError } from '../../src/errors.js';
import type { ZooKeeperStore } from '../../src/stores/zookeeper/zookeeper-store.js';
import { ConcurrencyMetrics } from './concurrency-metrics.js';
import { LimiterMetrics } from './limiter-metrics.js';
import type { ConcurrencyLimiter } from '../../src/concurrency/concurrency-limiter.js';
import type { Limiter } from '../../src/limiter.js';
import { isLimiter, isLimiterCatalog, limitersOf, watchCatalog, type CatalogWatch, type LimiterCatalog, type MetricsSource } from './limiter-sources.js';
import { registerMetricSet, unregisterMetricSet, type MetricSet } from './metric-set.js';
import { resolveMetricsOptions, type FlowgateMetricsOptions, type MetricsRegistry, type ResolvedMetricsOptions } from './metrics-options.js';
import { StoreMetrics } from './store-metrics.js';

/**
 * Prometheus metrics of flowgate, in a prom-client registry. Create one with {@link flowgateMetrics},
 * then `observe` limiters and `observeStore` ZooKeeper stores. The figures are read when the
 * registry is scraped; on the request path a watched limiter costs one event and one addition.
 *
 * Metrics (with the default prefix `flowgate_`): `decisions_total{limiter,result,reason}`,
 * `queue_depth{limiter}`, `queue_wait_seconds{limiter,result}`, from concurrency limits
 * `concurrency_decisions_total{limiter,result,reason}` and `concurrency_in_flight{limiter}`, and from stores
 * `zookeeper_operations_total{op}`, `zookeeper_errors_total{type}`, `tokens_leased_total{limiter}`,
 * `degraded`, `cluster_members`, `bucket_writes_total`, `bucket_conflicts_total`.
 */
export class FlowgateMetrics {
  /** The registry the metrics are registered in: serve `await registry.metrics()` as `registry.contentType`. */
  readonly registry: MetricsRegistry;
  private readonly options: ResolvedMetricsOptions;
  private readonly metrics: MetricSet;
  private readonly limiters: LimiterMetrics;
  private readonly concurrency: ConcurrencyMetrics;
  private readonly stores: StoreMetrics;
  private readonly catalogs = new Map<LimiterCatalog, CatalogWatch>();
  /** The observed sources that gave each watched limit: it is watched while any of them is observed. */
  private readonly givers = new Map<Limiter | ConcurrencyLimiter, Set<object>>();
  private closed = false;

  /** Use {@link flowgateMetrics}, which documents the options. */
  constructor(options: FlowgateMetricsOptions = {}) {
    this.options = resolveMetricsOptions(options);
    this.registry = this.options.registry;
    this.metrics = registerMetricSet(this.options, {
      decisions: () => this.limiters.collectDecisions(),
      queueDepth: () => this.limiters.collectQueueDepth(),
      permits: () => this.concurrency.collect(),
      stores: () => this.stores.collect(),
    });
    this.limiters = new LimiterMetrics(this.metrics);
    this.concurrency = new ConcurrencyMetrics(this.metrics);
    this.stores = new StoreMetrics(this.metrics);
  }

  /**
   * Counts the decisions, queue depth and waits of a limiter: a `Limiter`, anything with a
   * `.limiter` (the `flowgate/express` or `flowgate/koa` middleware, whose `.concurrencyLimiter`
   * is counted too), a `ConcurrencyLimiter` (acquires and permits in flight), or the NestJS
   * `FlowgateLimiters` service (`app.get(FlowgateLimiters)`: its rate and concurrency limits, the
   * module's and every `@RateLimit` one, including those made later, from the first request that
   * uses them; decisions are counted from the moment it is observed, so observe it before the app
   * serves to count them all).
   * The `limiter` label is the limiter's `name`: limiters of one name share their series.
   * Observing a limiter twice changes nothing. Throws `FlowgateArgumentError` for anything else.
   */
  observe(source: MetricsSource): this {
    this.assertOpen();
    if (isLimiterCatalog(source)) {
      if (!this.catalogs.has(source)) this.catalogs.set(source, watchCatalog(source, (limiter) => this.watch(limiter, source)));
    } else {
      const { limiter, concurrency } = limitersOf(source);
      if (limiter !== undefined) this.watch(limiter, source);
      if (concurrency !== undefined) this.watch(concurrency, source);
    }
    return this;
  }

  /**
   * Reports a ZooKeeper store: members, degraded state (from its `degraded` and `recovered`
   * events, so observe it when you create it), bucket writes and lost races, and, when its
   * `stats()` has them, ZooKeeper operations, errors and tokens leased. Several stores add up.
   */
  observeStore(store: ZooKeeperStore): this {
    this.assertOpen();
    this.stores.add(store);
    return this;
  }

  /**
   * Stops watching a limiter, middleware, NestJS service or store given to `observe` or
   * `observeStore` (its listeners are removed; its series keep their values, except that its
   * permits no longer count in `flowgate_concurrency_in_flight`). A limit also given by another
   * observed source (the limiter itself and its middleware, or the NestJS service) stays watched
   * until that one is unobserved too. Nothing happens
   * for one that is not watched.
   */
  unobserve(source: MetricsSource | ZooKeeperStore): this {
    if (this.stores.has(source)) {
      this.stores.remove(source);
    } else if (isLimiterCatalog(source)) {
      const watch = this.catalogs.get(source);
      this.catalogs.delete(source);
      watch?.stop();
      for (const limiter of watch?.limiters ?? []) this.unwatch(limiter, source);
    } else if (!this.closed && !isStoreShaped(source)) {
      const { limiter, concurrency } = limitersOf(source);
      if (limiter !== undefined) this.unwatch(limiter, source);
      if (concurrency !== undefined) this.unwatch(concurrency, source);
    }
    return this;
  }

  /** Watches `limit` as given by `source` (once, however many sources give it). */
  private watch(limit: Limiter | ConcurrencyLimiter, source: object): void {
    const sources = this.givers.get(limit) ?? new Set<object>();
    this.givers.set(limit, sources.add(source));
    if (isLimiter(limit)) this.limiters.add(limit);
    else this.concurrency.add(limit);
  }

  /** `source` no longer gives `limit`: it stops being watched when no observed source gives it. */
  private unwatch(limit: Limiter | ConcurrencyLimiter, source: object): void {
    const sources = this.givers.get(limit);
    sources?.delete(source);
    if (sources !== undefined && sources.size > 0) return;
    this.givers.delete(limit);
    if (isLimiter(limit)) this.limiters.remove(limit);
    else this.concurrency.remove(limit);
  }

  /** Removes every listener and unregisters the metrics from the registry. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.catalogs.values()) watch.stop();
    this.catalogs.clear();
    this.givers.clear();
    this.limiters.removeAll();
    this.concurrency.removeAll();
    this.stores.removeAll();
    unregisterMetricSet(this.metrics, this.options);
  }

  private assertOpen(): void {
    if (this.closed) throw new FlowgateError('ERR_FLOWGATE_CLOSED', 'flowgate: these metrics are closed; create new ones with flowgateMetrics()');
  }
}

/**
 * Registers flowgate's Prometheus metrics in a prom-client registry (prom-client's global
 * `register` by default). Bad options throw `FlowgateConfigError`, and so does a registry that
 * already holds metrics of the same names (one instance per registry and prefix).
 *
 * @example
 * import { flowgateMetrics } from 'flowgate/metrics';
 * const limit = rateLimit({ rate: 100, interval: '1m', queue: true });
 * const metrics = flowgateMetrics().observe(limit);
 * app.use(limit);
 * app.get('/metrics', async (req, res) => res.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
 */
export function flowgateMetrics(options: FlowgateMetricsOptions = {}): FlowgateMetrics {
  return new FlowgateMetrics(options);
}

/** Whether `value` looks like a ZooKeeperStore (one not watched: unobserving it does nothing). */
function isStoreShaped(value: unknown): boolean {
  const v = value as { stats?: unknown; connection?: unknown } | null;
  return typeof v === 'object' && v !== null && typeof v.stats === 'function' && typeof v.connection === 'function';
}
