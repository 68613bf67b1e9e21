// Scenario 5 and 6 (overload): a limit below the offered load, admitted vs each limiter's own bound, and ZooKeeper writes per admitted request.
import { startApps, total } from './app-cluster.mjs';
import { VARIANTS } from './limiters.mjs';

/** The limited variants, in the order each round runs them. */
export const ACCURACY_VARIANTS = ['flowgate', 'erl-redis', 'rlf-redis'];

/**
 * The most a variant may admit in a period of `seconds` (first to last admission), by its own
 * semantics:
 * - flowgate (token bucket, shared): burst + rate × T.
 * - express-rate-limit + rate-limit-redis, rate-limiter-flexible (fixed windows per key, each
 *   starting at the first hit after the previous one expired, `limit` hits each): windows that
 *   start within T number at most floor(T / W) + 1, so limit × (floor(T / W) + 1).
 */
export function admissionBound(variant, { rate, burst, intervalMs }, seconds) {
  const windows = Math.floor((seconds * 1000) / intervalMs) + 1;
  if (variant === 'flowgate') return { bound: burst + (rate * seconds * 1000) / intervalMs, formula: `burst + rate × T = ${burst} + ${rate}/s × ${seconds.toFixed(3)} s` };
  return { bound: rate * windows, formula: `limit × (floor(T/W) + 1) = ${rate} × ${windows}` };
}

/**
 * Per-second admissions from the first one, the admission rate in the middle of the run (from 2 s
 * after the first to 1 s before the last admission: no start-up burst, no end effects), and how
 * many fixed windows of `windowMs` the admissions opened (a window opens at the first admission
 * at least `windowMs` after the previous window opened), from every admission's wall time.
 */
export function admissionTimeline(times, windowMs) {
  const sorted = [...times].sort((x, y) => x - y);
  if (sorted.length === 0) return { perSecond: [], steadyPerSecond: NaN, windowsOpened: 0 };
  const first = sorted[0];
  const last = sorted.at(-1);
  const perSecond = Array.from({ length: Math.floor((last - first) / 1000) + 1 }, () => 0);
  for (const t of sorted) perSecond[Math.floor((t - first) / 1000)]++;
  const from = first + 2000;
  const to = last - 1000;
  const steadyPerSecond = to > from ? (sorted.filter((t) => t >= from && t < to).length * 1000) / (to - from) : NaN;
  let windowsOpened = 0;
  let opened = -Infinity;
  for (const t of sorted) {
    if (t >= opened + windowMs) {
      windowsOpened++;
      opened = t;
    }
  }
  return { perSecond, steadyPerSecond, windowsOpened };
}

async function measureOnce(variant, round, ctx) {
  const { config, loader, services, env, log } = ctx;
  const a = config.accuracy;
  const limits = { rate: a.rate, burst: a.burst, intervalMs: 1000 };
  const apps = await startApps(config.apps, {
    variant,
    connect: services.zookeeper.connect,
    root: ctx.root,
    redisPort: services.redis.port,
    name: `accuracy-${variant}-r${round}`,
    ...limits,
    timeline: true,
  }, env, { cpu: config.split ? 0 : undefined });
  try {
    const before = await apps.stats();
    const offered = Math.round(a.rate * a.offerFactor);
    const result = await loader.call('run', { urls: apps.urls('/'), connections: a.connections, durationSeconds: a.seconds, overallRate: offered }, a.seconds * 1000 + 30_000);
    // Let answers still in flight when the load stopped land before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await apps.stats();
    const timeline = admissionTimeline((await apps.admissions()).flat(), limits.intervalMs);
    const admitted = total(after, 'admitted') - total(before, 'admitted');
    const first = Math.min(...after.filter((s) => s.firstAdmitAt !== null).map((s) => s.firstAdmitAt));
    const last = Math.max(...after.filter((s) => s.lastAdmitAt !== null).map((s) => s.lastAdmitAt));
    const seconds = (last - first) / 1000;
    const { bound, formula } = admissionBound(variant, limits, seconds);
    const writes = total(after, 'writes', true) - total(before, 'writes', true);
    const conflicts = total(after, 'conflicts', true) - total(before, 'conflicts', true);
    const run = {
      variant,
      round,
      limits,
      offeredTarget: offered,
      offeredPerSecond: result.requestsPerSecond,
      result,
      admitted,
      perApp: after.map((s, i) => s.admitted - before[i].admitted),
      admittedSeconds: seconds,
      bound,
      formula,
      ofBound: admitted / bound,
      ofRateTimesT: admitted / ((a.rate * seconds * 1000) / limits.intervalMs),
      // Below 1.5 × the rate, the load itself, not the limiter, may hold admissions under the bound.
      underOffered: result.requestsPerSecond < 1.5 * a.rate,
      timeline,
      zookeeper: VARIANTS[variant].coordinator === 'zookeeper' ? { writes, conflicts, writesPerAdmitted: writes / admitted } : undefined,
      appErrors: total(after, 'errors'),
    };
    log(
      `  accuracy ${variant.padEnd(10)} offered ${Math.round(result.requestsPerSecond)}/s, admitted ${admitted} (${run.perApp.join('/')}) in ${seconds.toFixed(2)} s; ` +
        `bound ${Math.round(bound)} (${formula}) -> ${(run.ofBound * 100).toFixed(1)}%` +
        (run.underOffered ? ' (UNDER-OFFERED: the load generator fell below 1.5 × the rate; not a measure of the limiter)' : '') +
        (run.zookeeper ? `; zk writes ${writes} (${conflicts} conflicts) = ${(writes / admitted).toFixed(4)}/admitted` : '') +
        `\n    per second: ${timeline.perSecond.join(' ')}; steady rate ${Math.round(timeline.steadyPerSecond)}/s (from 2 s after the first to 1 s before the last admission); ` +
        `${timeline.windowsOpened} fixed windows of ${limits.intervalMs} ms would have opened`,
    );
    return run;
  } finally {
    await apps.stop();
  }
}

/** Every limited variant once per round; resolves with the list of runs. */
export async function measureAccuracy(ctx) {
  const a = ctx.config.accuracy;
  ctx.log(`accuracy: rate ${a.rate}/s, burst ${a.burst} (flowgate) / ${a.rate} per 1 s window (Redis peers), offered ${a.offerFactor}× for ${a.seconds} s, ${a.rounds} round(s)`);
  const runs = [];
  for (let round = 1; round <= a.rounds; round++) {
    for (const variant of ACCURACY_VARIANTS) runs.push(await measureOnce(variant, round, ctx));
  }
  return runs;
}
