// Scenarios 1-4 and 6 (steady state): each variant as 3 app processes, limit far above the load, measured in alternating rounds.
import { startApps, total } from './app-cluster.mjs';
import { startCpuMeter } from './cpu-meter.mjs';
import { VARIANTS } from './limiters.mjs';

/** The order each round runs the variants in (`floor-headers` only with BENCH_FLOORS=1). */
export const THROUGHPUT_VARIANTS = ['bare', 'flowgate', 'erl-redis', 'rlf-redis', 'flowgate-memory', 'flowgate-lease-2s', 'floor-headers'];

/** The variants a run measures. */
function measuredVariants(config) {
  return THROUGHPUT_VARIANTS.filter((v) => v !== 'floor-headers' || config.throughput.floors);
}

/**
 * Measures one variant once on fresh app processes: warm-up, then `durationSeconds` of load from
 * the loader child; counts ZooKeeper writes (flowgate) and admissions between the two.
 */
async function measureOnce(variant, round, ctx) {
  const { config, loader, services, env, log } = ctx;
  const t = config.throughput;
  const apps = await startApps(config.apps, {
    variant,
    connect: services.zookeeper.connect,
    root: ctx.root,
    redisPort: services.redis.port,
    name: `throughput-${variant}-r${round}`,
    rate: t.limit,
    intervalMs: 1000,
    burst: t.limit,
  }, env, { cpu: config.split ? 0 : undefined });
  try {
    const load = { urls: apps.urls('/'), connections: t.connections, pipelining: t.pipelining, loader: t.loader };
    if (t.warmupSeconds > 0) await loader.call('run', { ...load, durationSeconds: t.warmupSeconds }, t.warmupSeconds * 1000 + 30_000);
    const before = await apps.stats();
    const meter = startCpuMeter({ apps: apps.pids, loader: [loader.pid], zookeeper: services.zookeeper.pids, redis: [services.redis.pid] }, ['loader']);
    const result = await loader.call('run', { ...load, durationSeconds: t.durationSeconds }, t.durationSeconds * 1000 + 30_000);
    const cpu = meter.stop();
    const after = await apps.stats();
    const admitted = total(after, 'admitted') - total(before, 'admitted');
    const writes = total(after, 'writes', true) - total(before, 'writes', true);
    const conflicts = total(after, 'conflicts', true) - total(before, 'conflicts', true);
    const appErrors = total(after, 'errors');
    const run = { variant, round, result, cpu, admitted, zookeeper: VARIANTS[variant].coordinator === 'zookeeper' ? { writes, conflicts, writesPerAdmitted: writes / admitted } : undefined, appErrors };
    log(
      `  round ${round} ${variant.padEnd(10)} ${Math.round(result.requestsPerSecond).toString().padStart(6)} req/s  p99 ${String(result.latencyMs.p99).padStart(3)} ms  ` +
        `CPU apps ${pct(cpu.cores.apps)} loader ${pct(cpu.cores.loader)} zk ${pct(cpu.cores.zookeeper)} redis ${pct(cpu.cores.redis)} other ${pct(cpu.other)}` +
        (run.zookeeper ? `  zk writes ${writes} (${conflicts} conflicts) = ${(writes / admitted).toFixed(5)}/req` : '') +
        (result.non2xx + result.errors > 0 ? `  non2xx ${result.non2xx} errors ${result.errors}` : ''),
    );
    return run;
  } finally {
    await apps.stop();
  }
}

const pct = (cores) => (cores === undefined || Number.isNaN(cores) ? '  ?' : `${Math.round(cores * 100)}%`.padStart(4));

/**
 * All rounds: every variant once per round, in turn (reversed order on even rounds, so that no
 * variant always runs first or last, and bare and flowgate stay adjacent); resolves with the runs.
 */
export async function measureThroughput(ctx) {
  const { rounds, warmupSeconds, durationSeconds, connections } = ctx.config.throughput;
  const variants = measuredVariants(ctx.config);
  ctx.log(`throughput: ${rounds} round(s) × ${variants.length} variants × (${warmupSeconds} s warm-up + ${durationSeconds} s), ${connections} connections over ${ctx.config.apps} apps`);
  const runs = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? variants : [...variants].reverse();
    for (const variant of order) runs.push(await measureOnce(variant, round, ctx));
  }
  return runs;
}
