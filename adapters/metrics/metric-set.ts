// The Prometheus metrics flowgate exposes: names, types, help texts and labels, registered as one set.

import { Counter, Gauge, Histogram } from 'prom-client';
import { FlowgateConfigError } from '../../src/errors.js';
import type { ResolvedMetricsOptions } from './metrics-options.js';

/** The metrics of one {@link FlowgateMetrics}, by role. */
export interface MetricSet {
  readonly decisions: Counter<'limiter' | 'result' | 'reason'>;
  readonly queueDepth: Gauge<'limiter'>;
  readonly queueWait: Histogram<'limiter' | 'result'>;
  readonly permits: Counter<'limiter' | 'result' | 'reason'>;
  readonly permitsInFlight: Gauge<'limiter'>;
  readonly operations: Counter<'op'>;
  readonly errors: Counter<'type'>;
  readonly tokensLeased: Counter<'limiter'>;
  readonly fallbackDecisions: Counter<'limiter'>;
  readonly degraded: Gauge;
  readonly members: Gauge;
  readonly bucketWrites: Counter;
  readonly bucketConflicts: Counter;
}

/**
 * What refreshes the metrics just before each scrape: the counts kept on the hot path in plain
 * numbers (`decisions`), the waiting takes (`queueDepth`), and the stores' figures (`stores`).
 */
export interface MetricSetCollectors {
  decisions(): void;
  queueDepth(): void;
  permits(): void;
  stores(): void;
}

/** The name of each metric of a set whose prefix is `p`. */
export function metricNames(p: string): Readonly<Record<keyof MetricSet, string>> {
  return {
    decisions: `${p}decisions_total`,
    queueDepth: `${p}queue_depth`,
    queueWait: `${p}queue_wait_seconds`,
    permits: `${p}concurrency_decisions_total`,
    permitsInFlight: `${p}concurrency_in_flight`,
    operations: `${p}zookeeper_operations_total`,
    errors: `${p}zookeeper_errors_total`,
    tokensLeased: `${p}tokens_leased_total`,
    fallbackDecisions: `${p}fallback_decisions_total`,
    degraded: `${p}degraded`,
    members: `${p}cluster_members`,
    bucketWrites: `${p}bucket_writes_total`,
    bucketConflicts: `${p}bucket_conflicts_total`,
  };
}

/**
 * Creates the metrics and registers them in `options.registry`, all or none: throws
 * {@link FlowgateConfigError} (option `prefix`) when the registry already holds one of the names.
 */
export function registerMetricSet(options: ResolvedMetricsOptions, collectors: MetricSetCollectors): MetricSet {
  const { registry } = options;
  const names = metricNames(options.prefix);
  const taken = Object.values(names).find((name) => registry.getSingleMetric(name) !== undefined);
  if (taken !== undefined) {
    throw new FlowgateConfigError(
      'prefix',
      options.prefix,
      `the registry already holds a metric named ${taken}: create one flowgateMetrics() per registry, close() the earlier one first, or pass another registry or prefix`,
    );
  }
  const stores = (): void => collectors.stores();
  const none = { registers: [] };
  const set: MetricSet = {
    decisions: new Counter({
      name: names.decisions,
      help: 'Decisions of flowgate limiters, by limiter name, result (admitted, rejected, dry_run_rejected) and reject reason',
      labelNames: ['limiter', 'result', 'reason'] as const,
      collect: () => collectors.decisions(),
      ...none,
    }),
    queueDepth: new Gauge({
      name: names.queueDepth,
      help: "Takes waiting in this process's overflow queues, by limiter name",
      labelNames: ['limiter'] as const,
      collect: () => collectors.queueDepth(),
      ...none,
    }),
    queueWait: new Histogram({
      name: names.queueWait,
      help: 'Time takes spent in the overflow queue, by limiter name and result (served, timeout, aborted)',
      labelNames: ['limiter', 'result'] as const,
      buckets: options.buckets,
      ...none,
    }),
    permits: new Counter({
      name: names.permits,
      help: 'Acquires of flowgate concurrency limits, by limit name, result (acquired, rejected) and reject reason',
      labelNames: ['limiter', 'result', 'reason'] as const,
      collect: () => collectors.permits(),
      ...none,
    }),
    permitsInFlight: new Gauge({
      name: names.permitsInFlight,
      help: "Permits of flowgate concurrency limits held in this process, by limit name",
      labelNames: ['limiter'] as const,
      collect: () => collectors.permits(),
      ...none,
    }),
    operations: new Counter({ name: names.operations, help: 'ZooKeeper operations of flowgate stores, by operation', labelNames: ['op'] as const, collect: stores, ...none }),
    errors: new Counter({ name: names.errors, help: 'Failed ZooKeeper operations of flowgate stores, by error type', labelNames: ['type'] as const, collect: stores, ...none }),
    tokensLeased: new Counter({ name: names.tokensLeased, help: 'Tokens this process leased from shared ZooKeeper buckets, by limiter name', labelNames: ['limiter'] as const, collect: stores, ...none }),
    fallbackDecisions: new Counter({
      name: names.fallbackDecisions,
      help: 'Takes of flowgate limiters answered by onUnavailable because ZooKeeper could not be reached in time, by limiter name',
      labelNames: ['limiter'] as const,
      collect: stores,
      ...none,
    }),
    // 'max': under prom-client's AggregatorRegistry (node:cluster), workers must not add these up.
    degraded: new Gauge({ name: names.degraded, help: '1 while a flowgate store cannot reach ZooKeeper (decisions follow onUnavailable), else 0', aggregator: 'max', collect: stores, ...none }),
    members: new Gauge({ name: names.members, help: 'Live processes sharing the flowgate ZooKeeper root, as this process last saw them', aggregator: 'max', collect: stores, ...none }),
    bucketWrites: new Counter({ name: names.bucketWrites, help: 'ZooKeeper writes of flowgate buckets (creates, compare-and-sets, deletes)', collect: stores, ...none }),
    bucketConflicts: new Counter({ name: names.bucketConflicts, help: 'Compare-and-set races on flowgate buckets lost to another process (each was retried)', collect: stores, ...none }),
  };
  for (const metric of Object.values(set)) registry.registerMetric(metric);
  return set;
}

/** Removes the metrics of `set` (made with `prefix`) from `registry`. */
export function unregisterMetricSet(set: MetricSet, options: ResolvedMetricsOptions): void {
  const names = metricNames(options.prefix);
  for (const role of Object.keys(set) as Array<keyof MetricSet>) {
    // Only our own: a metric registered under the name since then is somebody else's.
    if (options.registry.getSingleMetric(names[role]) === set[role]) options.registry.removeSingleMetric(names[role]);
  }
}
