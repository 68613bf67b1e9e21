// flowgate/metrics: Prometheus metrics (prom-client) of flowgate limiters, queues and ZooKeeper stores.

export { flowgateMetrics, FlowgateMetrics } from './flowgate-metrics.js';
export { DEFAULT_WAIT_BUCKETS, type FlowgateMetricsOptions, type MetricsRegistry } from './metrics-options.js';
export type { MetricsSource, HasLimiter, LimiterCatalog } from './limiter-sources.js';
