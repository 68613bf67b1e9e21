// ZooKeeper clusters for the queue tests, through the project's rig (scripts/zk/*.sh): start, stop, faults.
// Every server is a plain JVM started and stopped by the scripts, which signal recorded PIDs only.

import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../helpers/wait.js';

export const REPO = path.resolve(__dirname, '../../..');
const SCRIPTS = path.join(REPO, 'scripts', 'zk');
const ZK_ROOT = path.join(REPO, '.zk');

/** Runs one rig script synchronously (start/stop only). Returns its stdout. */
function rigSync(script: string, args: string[], timeoutMs = 120_000): string {
  try {
    return execFileSync('bash', [path.join(SCRIPTS, script), ...args], { cwd: REPO, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`scripts/zk/${script} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** Runs one rig script without blocking the event loop (fault injection while load runs). */
export function rig(script: string, args: string[], timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [path.join(SCRIPTS, script), ...args], { cwd: REPO, encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/zk/${script} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface Cluster {
  readonly name: string;
  readonly connect: string;
  /** Client ports of members 1..n. */
  readonly ports: number[];
  /** Whether this file started it (and so may inject faults and must stop it). */
  readonly owned: boolean;
  stop(): void;
}

/** Starts a fresh private cluster (a leftover of an earlier run with the same name is stopped first). */
export function startCluster(name: string, mode: 'standalone' | 'ensemble', base: number): Cluster {
  if (base < 27000 || base > 28999) throw new Error(`queue tests own base ports 27000-28999, not ${base}`);
  rigSync('install.sh', [], 600_000);
  rigSync('stop.sh', [name]);
  const out = rigSync('start.sh', [name, mode, String(base)]).trim().split('\n');
  const connect = out[out.length - 1] as string;
  return { name, connect, ports: clientPorts(connect), owned: true, stop: () => void rigSync('stop.sh', [name]) };
}

/** The shared ensemble of scripts/test.sh (FLOWGATE_ZK_ENSEMBLE), if any. */
export function sharedEnsemble(): Cluster | undefined {
  const connect = process.env.FLOWGATE_ZK_ENSEMBLE;
  if (connect === undefined || connect === '') return undefined;
  return { name: process.env.FLOWGATE_ZK_ENSEMBLE_NAME ?? 'shared', connect, ports: clientPorts(connect), owned: false, stop: () => undefined };
}

export function clientPorts(connect: string): number[] {
  return connect
    .replace(/\/.*$/, '')
    .split(',')
    .map((hostPort) => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)));
}

export function member(cluster: Cluster, n: number, action: 'kill' | 'pause' | 'resume' | 'restart'): Promise<string> {
  if (!cluster.owned) throw new Error('faults only on a private cluster');
  return rig('member.sh', [cluster.name, String(n), action]);
}

/** leader|follower|standalone|down|paused|not-serving (member.sh prints it on stdout, exiting 1 unless serving). */
export function memberStatus(cluster: Cluster, n: number): Promise<string> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(SCRIPTS, 'member.sh'), cluster.name, String(n), 'status'], { cwd: REPO, encoding: 'utf8', timeout: 30_000 }, (_error, stdout) => {
      resolve(String(stdout).trim().replace(/^Mode: /, '') || 'unknown');
    });
  });
}

/** The member number of the current leader (waits through an election). */
export async function leaderOf(cluster: Cluster): Promise<number> {
  return Number((await rig('leader.sh', [cluster.name])).trim());
}

/** The recorded JVM pid of member n. */
export function memberPid(cluster: Cluster, n: number): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(ZK_ROOT, cluster.name, String(n), 'pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

function isOurJvm(pid: number, cluster: Cluster, n: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(ZK_ROOT, cluster.name, String(n), 'zoo.cfg'));
  } catch {
    return false;
  }
}

/** Kills every member (SIGKILL by recorded pid, through member.sh): a full outage, data kept. */
export async function killAll(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.ports.map((_, i) => member(cluster, i + 1, 'kill')));
  await waitFor(async () => (await Promise.all(cluster.ports.map((_, i) => memberStatus(cluster, i + 1)))).every((s) => s === 'down'), 15_000, 'every member down');
}

/**
 * Starts every member of a fully stopped ensemble again, keeping its data. `member.sh restart` waits
 * until its member serves, which a lone ensemble member never does (and restarts of one cluster are
 * serialised by a lock): so member 1 is launched by a restart whose script is stopped by its pid
 * once the JVM is up, then 2 and 3 are restarted normally (1 and 2 form a quorum).
 */
export async function restartAll(cluster: Cluster): Promise<void> {
  const first = spawn('bash', [path.join(SCRIPTS, 'member.sh'), cluster.name, '1', 'restart'], { cwd: REPO, stdio: 'ignore' });
  try {
    await waitFor(() => {
      const pid = memberPid(cluster, 1);
      return pid !== undefined && isOurJvm(pid, cluster, 1);
    }, 20_000, 'member 1 JVM launched');
  } finally {
    if (first.exitCode === null && first.pid !== undefined) process.kill(first.pid, 'SIGTERM');
  }
  await member(cluster, 2, 'restart');
  await member(cluster, 3, 'restart');
  await waitForQuorum(cluster);
}

/** Brings back every member: resumes paused ones, restarts dead ones; waits until all serve. */
export async function heal(cluster: Cluster): Promise<void> {
  const statuses = await Promise.all(cluster.ports.map((_, i) => memberStatus(cluster, i + 1)));
  for (const [i, status] of statuses.entries()) if (status === 'paused') await member(cluster, i + 1, 'resume');
  const down = statuses.map((s, i) => (s === 'down' ? i + 1 : 0)).filter((n) => n > 0);
  if (down.length === cluster.ports.length) await restartAll(cluster);
  else for (const n of down) await member(cluster, n, 'restart');
  await waitForQuorum(cluster);
}

export async function waitForQuorum(cluster: Cluster): Promise<void> {
  await waitFor(async () => (await Promise.all(cluster.ports.map((_, i) => memberStatus(cluster, i + 1)))).every((s) => s === 'leader' || s === 'follower'), 30_000, 'every member serving');
}
