// Orchestrator of `npm run bench`: measures the Express variants alternately, then MemoryStore's memory per key.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchConfig } from './config.mjs';
import { snapshotPackage } from './package-snapshot.mjs';
import { canPin, startNode, stop, stopAll } from './processes.mjs';
import { checkGoals, disturbed, DISTURBED_OTHER_CPU, summarize } from './summary.mjs';
import { goalList, memoryTable, throughputTable } from './table.mjs';
import { BASELINE, VARIANTS } from './variants.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
const log = (message) => process.stderr.write(`${message}\n`);
const pct = (cores) => (cores === undefined || Number.isNaN(cores) ? '  ?' : `${Math.round(cores * 100)}%`.padStart(4));

/** Starts the variant's server, loads it from a separate child process, stops both; resolves with load.mjs's report. */
async function measure(variant, config, cpus, env) {
  const server = startNode(join(here, 'servers', variant.server), { env: { ...env, NODE_ENV: 'production' }, timeoutMs: 15_000, cpu: cpus?.server });
  try {
    const { port, pid } = await server.report;
    const load = startNode(join(here, 'load.mjs'), {
      args: [
        JSON.stringify({
          url: `http://127.0.0.1:${port}/`,
          serverPid: pid,
          warmupSeconds: config.warmupSeconds,
          durationSeconds: config.durationSeconds,
          connections: config.connections,
          pipelining: config.pipelining,
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

async function benchmark(config, env) {
  const environment = { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, source: sourceRevision() };
  const cpus = config.pin && canPin && os.cpus().length >= 2 ? { server: 0, load: 1 } : undefined;
  const perRun = config.warmupSeconds + config.durationSeconds;
  log(`bench: ${config.rounds} round(s) × ${VARIANTS.length} variants × (${config.warmupSeconds} s warm-up + ${config.durationSeconds} s), ` +
    `${config.connections} connections, pipelining ${config.pipelining}, ${cpus ? 'server on CPU 0, load on CPU 1' : 'not pinned'}: about ${Math.ceil((config.rounds * VARIANTS.length * (perRun + 1)) / 60)} min`);

  const runs = [];
  for (let round = 1; round <= config.rounds; round++) {
    for (const variant of VARIANTS) {
      const result = await measure(variant, config, cpus, env);
      runs.push({ variant: variant.name, round, result });
      log(`  round ${round} ${variant.name.padEnd(18)} ${Math.round(result.requestsPerSecond).toString().padStart(7)} req/s  ` +
        `p99 ${String(result.latencyMs.p99).padStart(3)} ms  CPU: server ${pct(result.cpu.server)} loader ${pct(result.cpu.loader)} other ${pct(result.cpu.other)}`);
    }
  }
  const summaries = summarize(runs, VARIANTS, BASELINE);
  const goals = checkGoals(summaries);
  const httpPath = writeJson('express-latest.json', { date: new Date().toISOString(), environment, config, pinnedCpus: cpus ?? null, summaries, goals, runs });

  log(`memory: ${config.memoryKeys} keys through MemoryStore…`);
  const memory = await measureMemory(config, env);
  const memoryPath = writeJson('memory-latest.json', { date: new Date().toISOString(), environment, ...memory });

  const loaderBound = summaries.filter((s) => s.cpu.loader > 0.9).map((s) => s.name);
  const disturbedRuns = runs.filter((r) => disturbed(r.result));
  console.log(`\n## Express hello world, ${config.rounds} round(s) × ${config.durationSeconds} s, ${config.connections} connections (${environment.node}, ${environment.cpus} CPUs)\n`);
  console.log(throughputTable(summaries));
  console.log(`\n${goalList(goals)}`);
  if (loaderBound.length > 0) console.log(`- NOTE: the load generator used > 90% of a core for ${loaderBound.join(', ')}: those numbers may be its limit, not the server's`);
  if (disturbedRuns.length > 0) {
    const which = disturbedRuns.map((r) => `${r.variant} round ${r.round} (${pct(r.result.cpu.other).trim()})`).join(', ');
    console.log(`- NOTE: work outside the server and the load generator (other processes, kernel networking) used > ${DISTURBED_OTHER_CPU * 100}% of a core during ${disturbedRuns.length} of ${runs.length} measurements: ${which}; medians damp this, more BENCH_ROUNDS damp it more`);
  }
  console.log(`\n## MemoryStore memory per active key (${memory.keys.toLocaleString('en-US')} keys, fake clock)\n`);
  console.log(memoryTable(memory));
  console.log(`\nJSON: ${httpPath}, ${memoryPath}`);
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
