// Does ZooKeeper's write load on the apps' own machine cost them throughput? `node bench/zk-colocation.mjs` (after `npm run build`).
// Three Express apps behind flowgate on a MemoryStore each, alone and while a side process writes to the ensemble as often
// as flowgate's lease fetches do (6 writes/s, each watched by two clients), and the same apps on one ZooKeeperStore;
// alternated for BENCH_COLOCATION_ROUNDS rounds (default 3) of 2 s warm-up + 8 s of wrk. Starts its own 3-node ensemble
// (base port 29681) and stops it, and every child, by PID.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApps } from './cluster/app-cluster.mjs';
import { forkChild, stopAllChildren, stopChild } from './cluster/children.mjs';
import { startZooKeeper, stopZooKeeper } from './cluster/services.mjs';
import { runWrk } from './wrk.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const rounds = Number(process.env.BENCH_COLOCATION_ROUNDS ?? 3);
const writesPerSecond = Number(process.env.BENCH_COLOCATION_WRITES ?? 6);
const ensemble = 'colocation';
const zk = await startZooKeeper(ensemble, 29681);
const root = `/colocation-${Date.now()}`;

/** Requests per second of three fresh apps of `variant` (8 s of wrk after 2 s of warm-up), with a side writer when asked. */
async function measure(variant, round, sideWriter) {
  const apps = await startApps(3, { variant, connect: zk.connect, root, name: `colocation-${variant}-${round}`, rate: 1e9, intervalMs: 1000, burst: 1e9 });
  const writer = sideWriter
    ? forkChild(join(here, 'cluster', 'zk-side-writer.mjs'), { env: { FLOWGATE_BENCH_SIDE_WRITER: JSON.stringify({ connect: zk.connect, root, writesPerSecond }) }, label: 'side writer' })
    : undefined;
  try {
    await writer?.hello;
    await runWrk({ urls: apps.urls('/'), connections: 60, durationSeconds: 2 });
    return (await runWrk({ urls: apps.urls('/'), connections: 60, durationSeconds: 8 })).requestsPerSecond;
  } finally {
    if (writer !== undefined) await stopChild(writer.child);
    await apps.stop();
  }
}

const rows = { memory: [], 'memory + side writer': [], zookeeper: [] };
try {
  for (let round = 1; round <= rounds; round++) {
    rows.memory.push(await measure('flowgate-memory', round, false));
    rows['memory + side writer'].push(await measure('flowgate-memory', round, true));
    rows.zookeeper.push(await measure('flowgate', round, false));
    console.log(`round ${round}: ${Object.entries(rows).map(([name, values]) => `${name} ${Math.round(values.at(-1))}`).join(', ')} req/s`);
  }
} finally {
  await stopAllChildren();
  await stopZooKeeper(ensemble);
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const paired = (values) => median(values.map((value, i) => value / rows.memory[i]));
console.log(`\n| 3 apps, flowgate/express | req/s (median) | vs MemoryStore alone (paired by round) |\n|---|---:|---:|`);
for (const [name, values] of Object.entries(rows)) console.log(`| ${name} | ${Math.round(median(values)).toLocaleString('en')} | ${paired(values).toFixed(3)} |`);
console.log(`\nside writer: ${writesPerSecond} writes/s on the ensemble, each watched and read again by two clients`);
