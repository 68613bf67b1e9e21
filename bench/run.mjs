// Orchestrator of `npm run bench`: measures the Express, Koa and Nest variants alternately (each group against its bare
// framework), then MemoryStore's memory per key. BENCH_GROUPS picks the groups.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchConfig } from './config.mjs';
import { snapshotPackage } from './package-snapshot.mjs';
import { canPin, startNode, stop, stopAll } from './processes.mjs';
import { redisInstalled, startRedis } from './redis-server.mjs';
import { checkGoals, disturbed, DISTURBED_OTHER_CPU, summarize } from './summary.mjs';
import { goalList, memoryTable, throughputTable } from './table.mjs';
import { GROUPS } from './variants.mjs';
import { loaderNote } from './wrk.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
const log = (message) => process.stderr.write(`${message}\n`);
const pct = (cores) => (cores === undefined || Number.isNaN(cores) ? '  ?' : `${Math.round(cores * 100)}%`.padStart(4));

/**
 * Starts the variant's server, loads it from a separate child process, stops both; resolves with
 * load.mjs's report. `helperPids`: processes the server uses (its Redis), whose CPU is reported apart.
 */
async function measure(variant, config, cpus, env, helperPids = []) {
  const server = startNode(join(here, 'servers', variant.server), { env: { ...env, NODE_ENV: 'production' }, timeoutMs: 30_000, cpu: cpus?.server });
  try {
    const { port, pid } = await server.report;
    const load = startNode(join(here, 'load.mjs'), {
      args: [
        JSON.stringify({
          url: `http://127.0.0.1:${port}/`,
          serverPid: pid,
          helperPids,
          warmupSeconds: config.warmupSeconds,
          durationSeconds: config.durationSeconds,
          connections: config.connections,
          pipelining: config.pipelining,
          loader: config.loader,
        }),
      ],
      timeoutMs: (config.warmupSeconds + config.durationSeconds) * 1000 + 30_000,
      cpu: cpus?.load,
    });
    try {
      return await load.report;
    } finally {
      await stop(load.child);
    }
  } finally {
    await stop(server.child);
  }
}

/** Runs memory-per-key.mjs in its own process with --expose-gc and resolves with its report. */
async function measureMemory(config, env) {
  const child = startNode(join(here, 'memory-per-key.mjs'), { env, nodeArgs: ['--expose-gc'], args: [String(config.memoryKeys)], timeoutMs: 120_000 });
  try {
    return await child.report;
  } finally {
    await stop(child.child);
  }
}

function writeJson(name, value) {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, name);
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  return path;
}

/** The commit measured, and whether the source had uncommitted changes (undefined outside git). */
function sourceRevision() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: join(here, '..'), encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', 'HEAD'), uncommittedChanges: git('status', '--porcelain', '--', 'src', 'adapters') !== '' };
  } catch {
    return undefined;
  }
}

async function main() {
  const config = benchConfig();
  // Every child loads the package from one snapshot, so a rebuild elsewhere cannot change it mid-run.
  const snapshot = await snapshotPackage(join(here, '..'), join(here, '.snapshot'));
  try {
    await benchmark(config, { BENCH_FLOWGATE_SNAPSHOT: snapshot.dir });
  } finally {
    snapshot.remove();
  }
}

/**
 * The selected HTTP groups, each a copy with the variants this run measures and `notes` on those
 * left out; starts the run's redis-server when a selected variant needs it (`redis`, or undefined).
 */
async function prepareGroups(config, cpus, environment) {
  const groups = GROUPS.filter((g) => config.groups.includes(g.name)).map((g) => ({ ...g, variants: g.variants.filter((v) => config.floors || !v.floor), notes: [] }));
  if (!groups.some((g) => g.variants.some((v) => v.needs === 'redis'))) return { groups, redis: undefined };
  let redis;
  let reason;
  if (!config.redis) reason = 'BENCH_REDIS=0';
  else if (!redisInstalled()) reason = 'redis-server is not installed (Debian: `apt-get install redis-server`)';
  else {
    try {
      // On the server's CPU: the limiter's store is part of the server side's cost.
      redis = await startRedis(config.redisPort, cpus?.server);
      environment.redis = redis.version;
    } catch (error) {
      reason = `redis-server did not start on 127.0.0.1:${config.redisPort} (${error.message.split('\n')[0]}); BENCH_REDIS_PORT picks another port`;
    }
  }
  if (reason !== undefined) {
    for (const group of groups) {
      const left = group.variants.filter((v) => v.needs === 'redis');
      if (left.length === 0) continue;
      group.variants = group.variants.filter((v) => v.needs !== 'redis');
      group.notes.push(`- NOTE: not measured: ${left.map((v) => v.label).join(', ')}: ${reason}`);
    }
  }
  return { groups, redis };
}

/**
 * Measures every variant of `groups` once per round, in turn; resolves with `{ group, variant, round, result }` items.
 * Each round starts one variant later than the one before (round 2 starts with the second variant, ...), so that no
 * variant always runs first or right after the same neighbour: drift and position effects spread over all of them.
 */
async function measureRounds(groups, config, cpus, env, redis) {
  const runs = [];
  for (let round = 1; round <= config.rounds; round++) {
    for (const group of groups) {
      const shift = (round - 1) % group.variants.length;
      for (const variant of [...group.variants.slice(shift), ...group.variants.slice(0, shift)]) {
        const redisSide = variant.needs === 'redis' ? { env: { ...env, BENCH_REDIS_PORT: String(redis.port) }, helperPids: [redis.pid] } : { env, helperPids: [] };
        const result = await measure(variant, config, cpus, redisSide.env, redisSide.helperPids);
        runs.push({ group: group.name, variant: variant.name, round, result });
        const helpers = result.cpu.helpers === undefined ? '' : ` Redis ${pct(result.cpu.helpers)}`;
        log(`  round ${round} ${variant.name.padEnd(20)} ${Math.round(result.requestsPerSecond).toString().padStart(7)} req/s  ` +
          `p99 ${String(result.latencyMs.p99).padStart(3)} ms  CPU: server ${pct(result.cpu.server)}${helpers} loader ${pct(result.cpu.loader)} other ${pct(result.cpu.other)}`);
      }
    }
  }
  return runs;
}

async function benchmark(config, env) {
  const environment = { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverageAtStart: os.loadavg(), source: sourceRevision() };
  const cpus = config.pin && canPin && os.cpus().length >= 2 ? { server: 0, load: 1 } : undefined;
  const { groups, redis } = await prepareGroups(config, cpus, environment);
  const variantCount = groups.reduce((n, g) => n + g.variants.length, 0);
  const perRun = config.warmupSeconds + config.durationSeconds;
  const paths = [];
  if (variantCount > 0) {
    const note = loaderNote(config.loader);
    if (note !== undefined) log(note);
    log(`bench: ${groups.map((g) => g.name).join(', ')}: ${config.rounds} round(s) × ${variantCount} variants × (${config.warmupSeconds} s warm-up + ${config.durationSeconds} s), ` +
      `${config.loader}, ${config.connections} connections${config.loader === 'autocannon' ? `, pipelining ${config.pipelining}` : ''}, ${cpus ? `server on CPU 0${redis ? ' (with its Redis)' : ''}, load on CPU 1` : 'not pinned'}: ` +
      `about ${Math.ceil((config.rounds * variantCount * (perRun + 1.5)) / 60)} min; load average ${environment.loadAverageAtStart.map((l) => l.toFixed(1)).join(' ')} on ${environment.cpus} CPUs`);
  }
  let runs;
  try {
    runs = await measureRounds(groups, config, cpus, env, redis);
  } finally {
    await redis?.stop();
  }

  const reports = [];
  for (const group of groups) {
    const groupRuns = runs.filter((r) => r.group === group.name).map(({ group: _, ...run }) => run);
    const summaries = summarize(groupRuns, group.variants, group.baseline);
    const goals = checkGoals(summaries, group);
    paths.push(writeJson(`${group.name}-latest.json`, { date: new Date().toISOString(), environment, config, pinnedCpus: cpus ?? null, summaries, goals, runs: groupRuns }));
    reports.push({ group, summaries, goals, runs: groupRuns });
  }

  let memory;
  if (config.groups.includes('memory')) {
    log(`memory: ${config.memoryKeys} keys through MemoryStore…`);
    memory = await measureMemory(config, env);
    paths.push(writeJson('memory-latest.json', { date: new Date().toISOString(), environment, ...memory }));
  }

  for (const { group, summaries, goals, runs: groupRuns } of reports) {
    const loaderBound = summaries.filter((s) => s.cpu.loader > 0.9).map((s) => s.name);
    const disturbedRuns = groupRuns.filter((r) => disturbed(r.result));
    console.log(`\n## ${group.title}, ${config.rounds} round(s) × ${config.durationSeconds} s, ${config.loader}, ${config.connections} connections (${environment.node}, ${environment.cpus} CPUs)\n`);
    console.log(throughputTable(summaries, group.baselineName));
    console.log(`\n${goalList(goals)}`);
    if (group.issueQuote !== undefined) {
      const quoted = summaries.find((s) => s.name === group.issueQuote.variant);
      console.log(`- ${group.issueQuote.text}${quoted ? `; this run: ${quoted.label} ${quoted.ratioToBaseline.toFixed(3)} × ${group.baselineName}` : ''}`);
    }
    for (const note of group.notes) console.log(note);
    if (loaderBound.length > 0) console.log(`- NOTE: the load generator used > 90% of a core for ${loaderBound.join(', ')}: those numbers may be its limit, not the server's`);
    if (disturbedRuns.length > 0) {
      const which = disturbedRuns.map((r) => `${r.variant} round ${r.round} (${pct(r.result.cpu.other).trim()})`).join(', ');
      console.log(`- NOTE: work outside the server and the load generator (other processes, kernel networking) used > ${DISTURBED_OTHER_CPU * 100}% of a core during ${disturbedRuns.length} of ${groupRuns.length} measurements: ${which}; medians damp this, more BENCH_ROUNDS damp it more`);
    }
  }
  if (memory !== undefined) {
    console.log(`\n## MemoryStore memory per active key (${memory.keys.toLocaleString('en-US')} keys, fake clock)\n`);
    console.log(memoryTable(memory));
  }
  console.log(`\nJSON: ${paths.join(', ')}`);
  if (config.groups.includes('cluster')) await runCluster(env);
}

/** The cluster group: bench/cluster.mjs in its own process (it starts and stops its ZooKeeper and Redis by PID). */
async function runCluster(env) {
  log('\ncluster: bench/cluster.mjs (the ZooKeeper store on 3 processes, the cluster queue, DistributedQueue)…');
  const child = spawn(process.execPath, [join(here, 'cluster.mjs')], { env: { ...process.env, ...env }, stdio: 'inherit' });
  const code = await new Promise((resolve) => child.once('exit', (status, signal) => resolve(status ?? signal)));
  if (code !== 0) throw new Error(`bench/cluster.mjs ended with ${code}`);
}

// Ctrl-C: stop the children by PID before leaving.
process.once('SIGINT', () => {
  stopAll().finally(() => process.exit(130));
});

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
