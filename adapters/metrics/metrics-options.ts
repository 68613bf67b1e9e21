// The options of flowgateMetrics(): which registry, the metric name prefix, the wait histogram's buckets; validated.

import { register as globalRegistry, type OpenMetricsContentType, type Registry } from 'prom-client';
import { FlowgateConfigError } from '../../src/errors.js';

/** A prom-client registry, in either exposition format. */
export type MetricsRegistry = Registry | Registry<OpenMetricsContentType>;

/** Options of {@link flowgateMetrics}. */
export interface FlowgateMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  registry?: MetricsRegistry;
  /** Prepended to every metric name. Default `'flowgate_'`. */
  prefix?: string;
  /**
   * Upper bounds (seconds) of the buckets of the queue wait histogram, increasing. Default
   * {@link DEFAULT_WAIT_BUCKETS}: 5 ms to 30 s, which covers queue `maxWait`s up to 30 s.
   */
  buckets?: readonly number[];
}

/** The default buckets (seconds) of `flowgate_queue_wait_seconds`. */
export const DEFAULT_WAIT_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);

/** Options after validation, with the defaults filled in. */
export interface ResolvedMetricsOptions {
  readonly registry: MetricsRegistry;
  readonly prefix: string;
  readonly buckets: number[];
}

const KNOWN = ['registry', 'prefix', 'buckets'];
/** Names that other libraries (and prom-client itself) use for these options. */
const LOOKALIKES: Record<string, string> = { register: 'registry', registers: 'registry', bucket: 'buckets', nameprefix: 'prefix' };
/** Prometheus's rule for metric names (a prefix may also be empty). */
const METRIC_NAME_PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/** Validates `options`, throwing {@link FlowgateConfigError} naming the bad option. */
export function resolveMetricsOptions(options: FlowgateMetricsOptions = {}): ResolvedMetricsOptions {
  if (options === null || typeof options !== 'object') throw new FlowgateConfigError('options', options, 'must be an object');
  for (const [key, value] of Object.entries(options)) {
    if (KNOWN.includes(key)) continue;
    const hint = KNOWN.find((k) => k === key.toLowerCase()) ?? LOOKALIKES[key.toLowerCase()];
    throw new FlowgateConfigError(key, briefly(value), `unknown option${hint ? ` (did you mean '${hint}'?)` : ''}; known options: ${KNOWN.join(', ')}`);
  }
  const { registry = globalRegistry, prefix = 'flowgate_', buckets = DEFAULT_WAIT_BUCKETS } = options;
  const looksLikeRegistry = registry !== null && typeof registry === 'object' && typeof registry.registerMetric === 'function' && typeof registry.getSingleMetric === 'function';
  // Duck-typed, not instanceof: the app may load prom-client from another copy than flowgate does.
  if (!looksLikeRegistry) throw new FlowgateConfigError('registry', briefly(registry), "must be a prom-client Registry (new Registry(), or prom-client's register)");
  if (typeof prefix !== 'string' || !METRIC_NAME_PREFIX.test(prefix)) {
    throw new FlowgateConfigError('prefix', prefix, 'must be a string of letters, digits, _ and : that does not start with a digit');
  }
  if (!Array.isArray(buckets) || buckets.length === 0) throw new FlowgateConfigError('buckets', buckets, 'must be a non-empty array of seconds');
  buckets.forEach((bound, i) => {
    const previous = i === 0 ? 0 : (buckets[i - 1] as number);
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= previous) {
      throw new FlowgateConfigError('buckets', buckets, 'must be finite numbers of seconds > 0, each larger than the one before');
    }
  });
  return { registry, prefix, buckets: [...buckets] };
}

/** An object as `[object Name]` for an error message (a large one as JSON would flood it); other values as they are. */
export function briefly(value: unknown): unknown {
  return (typeof value === 'object' && value !== null) || typeof value === 'function' ? `[${typeof value} ${value.constructor?.name ?? 'Object'}]` : value;
}
