// CPU profile of one variant's server under load: `node bench/profile.mjs <variant> [seconds]` (after `npm run build`).
// Starts the server (CPU 0 when taskset works) with profile-hook.mjs preloaded, loads it with autocannon from this
// process (CPU 1): a warm-up, then the profiled load (the V8 profiler runs only then); stops it by PID, and prints where
// its time went: top functions by self time, flowgate's own time, and flowgate's functions by inclusive time. The
// .cpuprofile file (open it in Chrome DevTools) is kept under bench/results/profiles/.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { snapshotPackage } from './package-snapshot.mjs';
import { canPin } from './processes.mjs';
import { redisInstalled, startRedis } from './redis-server.mjs';
import { GROUPS } from './variants.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** Frames of the app past a middleware: Koa's and Express's dispatch of the next middleware or handler. */
const DOWNSTREAM = /\/node_modules\/(koa-compose|router|express)\/|\/bench\/servers\//;

/** Variants for profiling only (not in the bench's groups): flowgate on a ZooKeeperStore needs BENCH_ZK_CONNECT (e.g. a server of scripts/zk/start.sh). */
const PROFILE_ONLY = [{ name: 'flowgate-zookeeper', server: 'flowgate-zookeeper.mjs', needs: 'zookeeper' }];

const [variantName, secondsArg = '10'] = process.argv.slice(2);
const variants = [...GROUPS.flatMap((g) => g.variants), ...PROFILE_ONLY];
const variant = variants.find((v) => v.name === variantName);
const seconds = Number(secondsArg);
if (variant === undefined || !(seconds > 0)) {
  console.error(`usage: node bench/profile.mjs <variant> [seconds]; variants: ${variants.map((v) => v.name).join(', ')}`);
  process.exit(2);
}
if (variant.needs === 'zookeeper' && !process.env.BENCH_ZK_CONNECT) {
  console.error(`${variant.name} needs BENCH_ZK_CONNECT, e.g. BENCH_ZK_CONNECT=$(bash scripts/zk/start.sh profile standalone 23300 | tail -n 1)`);
  process.exit(2);
}
if (canPin) spawn('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const outDir = join(here, 'results', 'profiles', `${variant.name}-${Date.now()}`);
mkdirSync(outDir, { recursive: true });
const snapshot = await snapshotPackage(join(here, '..'), join(here, '.snapshot'));
let redis;
let server;
try {
  const env = { ...process.env, NODE_ENV: 'production', BENCH_FLOWGATE_SNAPSHOT: snapshot.dir };
  if (variant.needs === 'redis') {
    if (!redisInstalled()) throw new Error('redis-server is not installed (Debian: apt-get install redis-server)');
    redis = await startRedis(Number(process.env.BENCH_REDIS_PORT ?? 29479), canPin ? 0 : undefined);
    env.BENCH_REDIS_PORT = String(redis.port);
  }
  const profileFile = join(outDir, `${variant.name}.cpuprofile`);
  env.BENCH_PROFILE_FILE = profileFile;
  const nodeArgs = ['--import', join(here, 'profile-hook.mjs'), join(here, 'servers', variant.server)];
  const command = canPin ? ['taskset', '-c', '0', process.execPath, ...nodeArgs] : [process.execPath, ...nodeArgs];
  server = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`${variant.server} exited (code ${code}) before reporting its port`)));
  });
  const { port } = JSON.parse(line);
  const load = (duration) =>
    new Promise((resolve, reject) => autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration }, (e, r) => (e ? reject(e) : resolve(r))));
  await load(2);
  server.kill('SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const result = await load(seconds);
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
  console.log(`${variant.name}: ${Math.round(result.requests.total / result.duration)} req/s over ${seconds} s (profiled, after a 2 s warm-up); ${profileFile}`);
  report(JSON.parse(readFileSync(profileFile, 'utf8')), result.requests.total);
} finally {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  await redis?.stop();
  snapshot.remove();
}

/** Prints self time by function, and inclusive time of the package's functions, as % of the profile and µs per request. */
function report(profile, requests) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
  const label = (n) => {
    const url = n.callFrame.url
      .replace(/^file:\/\//, '')
      .replace(/^.*\/\.snapshot\/run-[^/]+\/node_modules\/flowgate\/dist\/cjs\//, 'flowgate:')
      .replace(/^.*\/node_modules\//, '')
      .replace(`${join(here, '..')}/`, '');
    return `${n.callFrame.functionName || '(anonymous)'} ${url}${url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  };
  const selfTime = new Map();
  const inclusive = new Map();
  let total = 0;
  let flowgateOwn = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    total += dt;
    // flowgate's own time: samples with a flowgate frame below any call into the rest of the app (next()).
    for (let cur = id; cur !== undefined; cur = parents.get(cur)) {
      const url = nodes.get(cur).callFrame.url;
      if (DOWNSTREAM.test(url)) break;
      if (url.includes('/node_modules/flowgate/')) {
        flowgateOwn += dt;
        break;
      }
    }
    const own = label(nodes.get(id));
    selfTime.set(own, (selfTime.get(own) ?? 0) + dt);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parents.get(cur)) {
      const name = label(nodes.get(cur));
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
    }
  });
  const busy = total - (selfTime.get('(idle) ') ?? 0);
  const row = ([name, t]) => `${((100 * t) / busy).toFixed(1).padStart(5)}%  ${(t / requests).toFixed(2).padStart(6)} µs/req  ${name}`;
  console.log(`\nbusy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s profiled; % of busy time, µs per request\n\ntop 30 by self time:`);
  for (const entry of [...selfTime].filter(([n]) => n !== '(idle) ').sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(row(entry));
  console.log(`\nflowgate's own time (its frames and what they call, up to the next middleware or handler): ${((100 * flowgateOwn) / busy).toFixed(1)}%, ${(flowgateOwn / requests).toFixed(2)} µs/req`);
  const own = [...inclusive].filter(([n]) => n.includes('flowgate:')).sort((a, b) => b[1] - a[1]).slice(0, 30);
  if (own.length > 0) {
    console.log('\nflowgate functions by inclusive time (a middleware\'s includes the rest of the app it calls):');
    for (const entry of own) console.log(row(entry));
  }
}
