// The servers the cluster bench coordinates through: a private 3-node ZooKeeper ensemble (scripts/zk) and one Redis, stopped by PID.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const zkScripts = join(repo, 'scripts', 'zk');

function run(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: repo, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** ZooKeeper ensembles this process started (by cluster name), for stopServices(). */
const ensembles = new Set();

/**
 * Starts (installing Debian's zookeeper first when missing) the 3-node ensemble `name` on
 * 127.0.0.1 with client ports base..base+2, and resolves with `{ name, connect, pids }` once it has
 * a leader and two followers. scripts/zk/start.sh records each member's PID; stopZooKeeper stops
 * them by those PIDs.
 */
export async function startZooKeeper(name, basePort) {
  await run('bash', [join(zkScripts, 'install.sh')], 600_000);
  ensembles.add(name);
  const { stdout } = await run('bash', [join(zkScripts, 'start.sh'), name, 'ensemble', String(basePort)], 120_000);
  const connect = stdout.trim().split('\n').at(-1);
  return { name, connect, pids: zooKeeperPids(name) };
}

/** The recorded PIDs of the ensemble's members (for CPU accounting). */
export function zooKeeperPids(name) {
  return [1, 2, 3].map((n) => {
    try {
      return Number(readFileSync(join(repo, '.zk', name, String(n), 'pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
  }).filter((pid) => Number.isInteger(pid));
}

/** Stops the ensemble's members by their recorded PIDs (scripts/zk/stop.sh). */
export async function stopZooKeeper(name) {
  await run('bash', [join(zkScripts, 'stop.sh'), name], 60_000);
  ensembles.delete(name);
}

/** Redis servers this process started, for stopServices(). */
const redisServers = new Set();

/** Installs Debian's redis-server when it is missing (apt-get update first if the install fails). */
function ensureRedisInstalled() {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0) return;
  process.stderr.write('cluster bench: redis-server missing, installing it with apt-get…\n');
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', 'redis-server'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (!install()) throw new Error('could not install redis-server: run `apt-get install -y redis-server`');
  }
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` as a child of this process, with no persistence
 * (`--save '' --appendonly no`), and resolves with `{ child, pid, port }` once it accepts
 * connections.
 */
export async function startRedis(port) {
  ensureRedisInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = { child, pid: child.pid, port, dir };
  redisServers.add(handle);
  const log = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready within 15 s:\n${log.join('\n')}`)), 15_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (log.length < 50) log.push(line);
      if (/Ready to accept connections/.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (chunk) => log.push(String(chunk)));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (code ${code}, signal ${signal}) during start-up:\n${log.join('\n')}`));
    });
  });
  child.stdout.resume();
  return handle;
}

/** Stops a Redis server started by startRedis, by its PID (SIGTERM, SIGKILL after 5 s), and removes its directory. */
export async function stopRedis(handle) {
  const { child } = handle;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(handle.dir, { recursive: true, force: true });
  redisServers.delete(handle);
}

/** Stops every ensemble and Redis server this process started and has not stopped yet. */
export async function stopServices() {
  const results = await Promise.allSettled([...[...redisServers].map(stopRedis), ...[...ensembles].map(stopZooKeeper)]);
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length > 0) throw new AggregateError(failed.map((r) => r.reason), 'cluster bench: could not stop every service');
}
