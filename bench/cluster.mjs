// Cluster benchmarks (issues 3 and 4): flowgate + ZooKeeper vs Redis-backed peers over 3 app processes, accuracy, ZooKeeper writes, queues.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureAccuracy } from './cluster/accuracy.mjs';
import { forkChild, stopAllChildren, stopChild } from './cluster/children.mjs';
import { clusterConfig } from './cluster/config.mjs';
import { measureOverflowQueue } from './cluster/overflow-queue.mjs';
import { measureQueueThroughput } from './cluster/queue-throughput.mjs';
import { accuracyTable, goalList, orderTable, overflowTable, queueTable, throughputTable, writesTable } from './cluster/report.mjs';
import { startRedis, startZooKeeper, stopServices } from './cluster/services.mjs';
import { checkGoals, summarizeAccuracy, summarizeQueue, summarizeThroughput } from './cluster/summary.mjs';
import { measureThroughput } from './cluster/throughput.mjs';
import { snapshotPackage } from './package-snapshot.mjs';
import { canPin, pinRunning } from './processes.mjs';
import { loaderNote } from './wrk.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const defaultLog = (message) => process.stderr.write(`${message}\n`);
/** The package snapshot of the run in progress, for the signal handler. */
let activeSnapshot;

/** Builds the package when dist/ is missing; warns when src/ or adapters/ changed since the build. */
function ensureBuilt(log) {
  if (!existsSync(join(repo, 'dist', 'cjs', 'src', 'index.js'))) {
    log('cluster bench: dist/ missing, running `npm run build`…');
    execFileSync('npm', ['run', 'build'], { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
    return;
  }
  const newer = spawnSync('find', ['src', 'adapters', '-newer', 'dist/cjs/src/index.js', '-type', 'f'], { cwd: repo, encoding: 'utf8' }).stdout?.trim();
  if (newer) log(`cluster bench: NOTE: sources changed since the last build (${newer.split('\n').slice(0, 3).join(', ')}…): measuring dist/ as built; run \`npm run build\` to measure them`);
}

function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(join(repo, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** When the measured build was made (mtime of its index.js) and a hash of its dist/cjs files, to tell builds apart. */
function packageUnderTest(snapshotDir) {
  const dist = join(snapshotDir, 'node_modules', 'flowgate', 'dist', 'cjs');
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(name).update(readFileSync(path));
    }
  };
  try {
    walk(dist);
    return { builtAt: statSync(join(repo, 'dist', 'cjs', 'src', 'index.js')).mtime.toISOString(), distCjsSha256: hash.digest('hex').slice(0, 16) };
  } catch {
    return undefined;
  }
}

function environment() {
  const run = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadAverageAtStart: os.loadavg(),
    source: { commit: run('git', ['rev-parse', 'HEAD']), uncommittedChanges: (run('git', ['status', '--porcelain', '--', 'src', 'adapters']) ?? '') !== '' },
    packages: Object.fromEntries(['express', 'express-rate-limit', 'rate-limit-redis', 'rate-limiter-flexible', 'ioredis', 'node-zookeeper-client', 'autocannon'].map((p) => [p, versionOf(p)])),
    zookeeper: run('dpkg-query', ['-W', '-f', '${Version}', 'zookeeper']),
    redis: run('redis-server', ['--version']),
  };
}

/**
 * Runs the cluster benchmarks and resolves with the results (see README: cluster section). Starts
 * and always stops its own 3-node ZooKeeper ensemble, Redis server and child processes. `env`: for
 * the children; with BENCH_FLOWGATE_SNAPSHOT set (bench/run.mjs's snapshot of the package), it is
 * used, else this run snapshots dist/ itself. `log`: progress lines (default stderr).
 */
export async function runClusterBench({ env = {}, log = defaultLog } = {}) {
  const config = clusterConfig();
  const started = performance.now();
  let snapshot;
  if (env.BENCH_FLOWGATE_SNAPSHOT === undefined) {
    ensureBuilt(log);
    snapshot = await snapshotPackage(repo, join(here, '.snapshot'));
    activeSnapshot = snapshot;
    env = { ...env, BENCH_FLOWGATE_SNAPSHOT: snapshot.dir };
  }
  const results = { date: new Date().toISOString(), environment: { ...environment(), packageUnderTest: packageUnderTest(env.BENCH_FLOWGATE_SNAPSHOT) }, config };
  let loader;
  if (config.split) {
    if (!canPin) throw new Error('BENCH_CLUSTER_SPLIT=1 needs taskset (util-linux) and 2 CPUs');
    // This process and all it starts (ZooKeeper, Redis, the load generator) on CPU 1; the apps are moved to CPU 0.
    pinRunning([process.pid], 1);
  }
  try {
    const note = loaderNote(config.throughput.loader);
    if (note !== undefined) log(note);
    log(`cluster bench: starting a 3-node ZooKeeper ensemble '${config.zookeeper.cluster}' (ports ${config.zookeeper.basePort}-${config.zookeeper.basePort + 2}) and Redis on 127.0.0.1:${config.redis.port}…`);
    const [zookeeper, redis] = await Promise.all([startZooKeeper(config.zookeeper.cluster, config.zookeeper.basePort), startRedis(config.redis.port)]);
    results.services = { zookeeper: { connect: zookeeper.connect, pids: zookeeper.pids }, redis: { port: redis.port, pid: redis.pid } };
    loader = forkChild(join(here, 'cluster', 'load-worker.mjs'), { label: 'load-worker' });
    await loader.hello;
    const ctx = { config, env, log, loader, services: { zookeeper, redis }, root: `/flowgate-bench-${Date.now().toString(36)}` };

    if (config.sections.includes('throughput')) {
      const runs = await measureThroughput(ctx);
      results.throughput = { runs, summaries: summarizeThroughput(runs) };
    }
    if (config.sections.includes('accuracy')) {
      const runs = await measureAccuracy(ctx);
      results.accuracy = { runs, summaries: summarizeAccuracy(runs) };
    }
    if (config.sections.includes('queue')) {
      const runs = await measureQueueThroughput(ctx);
      results.queue = { runs, summary: summarizeQueue(runs) };
    }
    if (config.sections.includes('overflow')) results.overflow = await measureOverflowQueue(ctx);
    results.goals = checkGoals({ throughput: results.throughput?.summaries, accuracy: results.accuracy?.summaries, queue: results.queue?.summary, overflow: results.overflow });
  } finally {
    if (loader) await stopChild(loader.child);
    await stopAllChildren();
    try {
      await stopServices();
    } finally {
      snapshot?.remove();
      activeSnapshot = undefined;
    }
  }
  results.wallSeconds = (performance.now() - started) / 1000;
  log(`cluster bench: done in ${results.wallSeconds.toFixed(0)} s`);
  return results;
}

/** The results as markdown: one table per measured section, then the goals. */
export function formatClusterReport(results) {
  const { environment: e, config } = results;
  const out = [`## Cluster benchmarks (${e.node}, ${e.cpus} CPUs, ZooKeeper ${e.zookeeper ?? '?'} 3-node ensemble, ${e.redis?.split(' ').slice(0, 3).join(' ') ?? 'Redis ?'})`];
  if (results.throughput) {
    const t = config.throughput;
    out.push(`\n### Throughput: hello-world Express × 3 processes, limit far above the load (${t.rounds} rounds × ${t.durationSeconds} s, ${t.loader}, ${t.connections} connections spread over the 3 ports, ${config.split ? 'apps on CPU 0, ZooKeeper, Redis and the load generator on CPU 1' : 'not pinned'})\n`);
    out.push(throughputTable(results.throughput.summaries));
  }
  if (results.accuracy) {
    const a = config.accuracy;
    out.push(`\n### Accuracy: limit ${a.rate}/s below an offered ${a.offerFactor}× for ${a.seconds} s, 3 processes, one key\n`);
    out.push(accuracyTable(results.accuracy.summaries));
    out.push('\nBounds: flowgate (shared token bucket) admits at most burst + rate × T in any period T. The Redis peers use fixed windows per key (a window opens at the first hit after the previous one expired; `limit` hits each), so at most limit × (floor(T / W) + 1) in T; they may admit 2 × limit within one W across a window edge.');
  }
  if (results.throughput || results.accuracy) {
    out.push('\n### ZooKeeper writes per admitted request (sum of stats().writes deltas over the 3 processes)\n');
    out.push(writesTable(results.throughput?.summaries, results.accuracy?.summaries));
  }
  if (results.queue) {
    out.push('\n### DistributedQueue vs raw ZooKeeper writes (same ensemble, same run)\n');
    out.push(queueTable(results.queue.summary, config.queue));
  }
  if (results.overflow) {
    out.push('\n### Cluster-wide overflow queue: ZooKeeper writes per queued request\n');
    out.push(overflowTable(results.overflow));
    out.push(`\n### Cross-process order: ${config.overflow.orderRequests} requests, one every ${config.overflow.spacingMs} ms to process i mod 3, or in groups of ${config.overflow.groupSize} (a burst)\n`);
    out.push(orderTable({ ...results.overflow.order, wide: results.overflow.wideOrder, grouped: results.overflow.groupedOrder }));
  }
  if (results.goals) out.push(`\n### Goals\n\n${goalList(results.goals)}`);
  const busy = results.throughput?.summaries.filter((s) => s.cpu.other > 0.25).map((s) => s.name) ?? [];
  if (busy.length > 0) {
    out.push(
      `- NOTE: work outside the apps, the load generator, ZooKeeper and Redis used > 25% of a core (median) during ${busy.join(', ')}: other load on the machine disturbed the req/s figures; ` +
        'the "undisturbed rounds" and "by CPU/req" columns are less sensitive to it (more rounds: BENCH_CLUSTER_ROUNDS)',
    );
  }
  return out.join('\n');
}

/** Writes the results to bench/results/cluster-latest.json and returns its path. */
export function writeClusterResults(results) {
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'cluster-latest.json');
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}

async function main() {
  let stopping = false;
  const onSignal = (signal) => {
    if (stopping) return;
    stopping = true;
    defaultLog(`cluster bench: ${signal}, stopping children, ZooKeeper and Redis…`);
    Promise.allSettled([stopAllChildren(), stopServices()]).finally(() => {
      activeSnapshot?.remove();
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results = await runClusterBench();
  console.log(formatClusterReport(results));
  console.log(`\nJSON: ${writeClusterResults(results)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch(async (error) => {
    console.error(error);
    await Promise.allSettled([stopAllChildren(), stopServices()]);
    activeSnapshot?.remove();
    process.exit(1);
  });
}
