// The cluster benchmark's settings: defaults, overridable by BENCH_CLUSTER_* environment variables, validated.
import { chooseLoader } from '../wrk.mjs';

/** Reads a number from the environment variable `name`, or `fallback` when unset; throws on a bad value. */
function number(name, fallback, { integer = false, min = 0, minInclusive = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const ok = Number.isFinite(value) && (minInclusive ? value >= min : value > min) && (!integer || Number.isInteger(value));
  if (!ok) throw new Error(`${name}=${raw}: must be ${integer ? 'an integer' : 'a number'} ${minInclusive ? '>=' : '>'} ${min}`);
  return value;
}

/** The sections a run measures; BENCH_CLUSTER_ONLY=throughput,accuracy,queue,overflow picks some. */
export const SECTIONS = ['throughput', 'accuracy', 'queue', 'overflow'];

function sections() {
  const raw = process.env.BENCH_CLUSTER_ONLY;
  if (raw === undefined || raw.trim() === '') return [...SECTIONS];
  const picked = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = picked.filter((s) => !SECTIONS.includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_CLUSTER_ONLY: unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`);
  return picked;
}

/**
 * Settings of one cluster bench run. Defaults take about 5 minutes: 5 rounds × 6 variants ×
 * (2 s warm-up + 5 s), 3 accuracy runs of 10 s, 2 rounds of the queue-throughput pair, and the two
 * overflow-queue scenarios (about 12 s each at 50 requests/s).
 */
export function clusterConfig() {
  const accuracyRate = number('BENCH_CLUSTER_ACCURACY_RATE', 2000);
  const connections = number('BENCH_CLUSTER_CONNECTIONS', 60, { integer: true });
  const pipelining = number('BENCH_CLUSTER_PIPELINING', 1, { integer: true });
  return {
    sections: sections(),
    /** App processes per variant (the load generator spreads its connections over them). */
    apps: 3,
    /**
     * BENCH_CLUSTER_SPLIT=1: the app processes on CPU 0, everything else (the ZooKeeper servers,
     * Redis, the load generator) on CPU 1, as if those ran on hosts of their own: the apps' share
     * of the machine is then the same in every variant, whatever the servers of its store do.
     * Unset: nothing is pinned, and the servers take their CPU from the apps' two cores.
     */
    split: process.env.BENCH_CLUSTER_SPLIT === '1',
    throughput: {
      rounds: number('BENCH_CLUSTER_ROUNDS', 5, { integer: true }),
      durationSeconds: number('BENCH_CLUSTER_DURATION', 5),
      warmupSeconds: number('BENCH_CLUSTER_WARMUP', 2, { minInclusive: true }),
      /** Rounded up to a multiple of the app count, so every app gets as many connections. */
      connections: Math.ceil(connections / 3) * 3,
      pipelining,
      /** BENCH_FLOORS=1: also a reference row, a middleware that only sets two constant RateLimit headers. */
      floors: process.env.BENCH_FLOORS === '1',
      /** The load generator (BENCH_LOADER, else wrk when installed); autocannon when pipelining > 1 (wrk does not pipeline). */
      loader: pipelining > 1 ? 'autocannon' : chooseLoader(),
      /** "Far above the load": no variant can come near it in a run. */
      limit: 1e9,
    },
    accuracy: {
      rounds: number('BENCH_CLUSTER_ACCURACY_ROUNDS', 1, { integer: true }),
      /**
       * Seconds of load. Not a whole number of seconds on purpose: the fixed-window peers' bound
       * jumps by a whole window at each 1 s edge, and a load that stopped right at an edge would
       * make their figure depend on a few requests' timing.
       */
      seconds: number('BENCH_CLUSTER_ACCURACY_SECONDS', 10.5),
      rate: accuracyRate,
      burst: number('BENCH_CLUSTER_ACCURACY_BURST', accuracyRate, { integer: true }),
      /** Offered load as a multiple of the rate (autocannon's overallRate). */
      offerFactor: number('BENCH_CLUSTER_ACCURACY_OFFER', 3),
      connections: Math.ceil(connections / 3) * 3,
    },
    queue: {
      rounds: number('BENCH_CLUSTER_QUEUE_ROUNDS', 2, { integer: true }),
      items: number('BENCH_CLUSTER_QUEUE_ITEMS', 3000, { integer: true }),
      consumers: 3,
      consumerConcurrency: number('BENCH_CLUSTER_QUEUE_CONCURRENCY', 8, { integer: true }),
      producerInFlight: 64,
      rawSeconds: number('BENCH_CLUSTER_RAW_SECONDS', 4),
      rawInFlight: 64,
    },
    overflow: {
      rate: 50,
      burst: 5,
      maxWaitMs: 15_000,
      maxSize: 2000,
      /** Scenario (b): requests sent at once, spread over the apps in turn. */
      burstRequests: number('BENCH_CLUSTER_OVERFLOW_REQUESTS', 600, { integer: true }),
      /** Scenario (c): requests sent one every `spacingMs`, to app i % 3. */
      orderRequests: number('BENCH_CLUSTER_ORDER_REQUESTS', 600, { integer: true }),
      spacingMs: number('BENCH_CLUSTER_ORDER_SPACING_MS', 12),
      /**
       * Scenario (d): the same requests as a burst in a known interleaving: groups of this many,
       * one group every `spacingMs`, group g to app g % 3 (600 requests in about 1.4 s).
       */
      groupSize: number('BENCH_CLUSTER_ORDER_GROUP', 5, { integer: true }),
      /** The apps' queue.orderGrace (ms) in every overflow scenario; unset: the library's default. */
      orderGraceMs: process.env.BENCH_CLUSTER_ORDER_GRACE ? number('BENCH_CLUSTER_ORDER_GRACE', 0, { minInclusive: true }) : undefined,
      /** Scenario (c) again with this `queue.batchWindow` (ms): the writes-versus-order trade. */
      wideBatchWindowMs: number('BENCH_CLUSTER_WIDE_BATCH_WINDOW_MS', 200),
    },
    zookeeper: {
      cluster: process.env.BENCH_CLUSTER_ZK_NAME ?? 'flowgate-bench-cluster',
      basePort: number('BENCH_CLUSTER_ZK_BASE', 29181, { integer: true, min: 1024, minInclusive: true }),
    },
    redis: {
      port: number('BENCH_CLUSTER_REDIS_PORT', 29379, { integer: true, min: 1024, minInclusive: true }),
    },
  };
}
