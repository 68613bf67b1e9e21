// The benchmark's settings: defaults, overridable by BENCH_* environment variables, validated.
import { GROUP_NAMES } from './variants.mjs';
import { chooseLoader } from './wrk.mjs';

/** Reads a positive number from the environment variable `name`, or `fallback` when unset. */
function positive(name, fallback, { integer = false, allowZero = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const ok = Number.isFinite(value) && (allowZero ? value >= 0 : value > 0) && (!integer || Number.isInteger(value));
  if (!ok) throw new Error(`${name}=${raw}: must be ${integer ? 'an integer' : 'a number'} ${allowZero ? '>= 0' : '> 0'}`);
  return value;
}

/** The groups named in BENCH_GROUPS (comma-separated), in GROUP_NAMES order; all of them when unset. */
function groups() {
  const raw = process.env.BENCH_GROUPS;
  if (raw === undefined || raw.trim() === '' || raw.trim() === 'all') return [...GROUP_NAMES];
  const asked = raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  const unknown = asked.filter((s) => !GROUP_NAMES.includes(s));
  if (unknown.length > 0 || asked.length === 0) throw new Error(`BENCH_GROUPS=${raw}: expects a comma-separated list of ${GROUP_NAMES.join(', ')} (or all)`);
  return GROUP_NAMES.filter((g) => asked.includes(g));
}

/** Settings of one `npm run bench`. Defaults: 3 rounds × 11 variants × (2 s warm-up + 5 s + start-up) ≈ 4.5 min. */
export function benchConfig() {
  const loader = chooseLoader();
  if (loader === 'wrk' && (process.env.BENCH_PIPELINING ?? '1') !== '1') throw new Error(`BENCH_PIPELINING=${process.env.BENCH_PIPELINING}: wrk does not pipeline; add BENCH_LOADER=autocannon`);
  return {
    /** Seconds each variant is measured per round. */
    durationSeconds: positive('BENCH_DURATION', 5),
    /** Rounds; each round measures every variant once, in turn. */
    rounds: positive('BENCH_ROUNDS', 3, { integer: true }),
    /** Seconds of unmeasured load on each freshly started server before its measurement. */
    warmupSeconds: positive('BENCH_WARMUP', 2, { allowZero: true }),
    /** Concurrent HTTP connections of the load generator. */
    connections: positive('BENCH_CONNECTIONS', 50, { integer: true }),
    /** The load generator: `wrk` (when installed) or `autocannon`; BENCH_LOADER picks one. */
    loader,
    /** Requests in flight per connection (autocannon only: wrk does not pipeline). */
    pipelining: positive('BENCH_PIPELINING', 1, { integer: true }),
    /** Pin the server to CPU 0 and the load generator to CPU 1 (when taskset exists and there are 2+ CPUs); BENCH_PIN=0 turns it off. */
    pin: process.env.BENCH_PIN !== '0',
    /** Distinct keys in the memory-per-key measurement. */
    memoryKeys: positive('BENCH_MEMORY_KEYS', 200_000, { integer: true }),
    /** The groups to run: express, koa, nest (HTTP throughput), memory, and cluster (bench/cluster.mjs). */
    groups: groups(),
    /** Measure the variants that need Redis (a redis-server started for the run); BENCH_REDIS=0 leaves them out. */
    redis: process.env.BENCH_REDIS !== '0',
    /** Also measure the reference variants (`floor: true`): a pass-through middleware or guard, one setting two headers. */
    floors: process.env.BENCH_FLOORS === '1',
    /** The loopback port of that redis-server. */
    redisPort: positive('BENCH_REDIS_PORT', 29479, { integer: true }),
  };
}
