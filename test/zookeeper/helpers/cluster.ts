// ZooKeeper clusters for the integration tests, through the project's rig (scripts/zk/*.sh): start, stop, faults.

import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { uniqueRoot, waitFor } from '../../helpers/wait.js';
import { removeRoot } from './raw-client.js';

export const REPO = path.resolve(__dirname, '../../..');
const SCRIPTS = path.join(REPO, 'scripts', 'zk');
const ZK_ROOT = path.join(REPO, '.zk');

/** Runs one rig script synchronously (start/stop only: it blocks the event loop). Returns its stdout. */
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

/** A cluster started by (and owned by) one test file. */
export interface Cluster {
  readonly name: string;
  readonly base: number;
  readonly connect: string;
  /** Client ports of members 1..n, in order. */
  readonly ports: number[];
  /** Stops every member (idempotent). */
  stop(): void;
}

/**
 * Starts a private cluster named `name` on `base` (a fresh one: a leftover of an earlier run with the
 * same name is stopped first, so that no paused or half-dead member is reused).
 */
export function startCluster(name: string, mode: 'standalone' | 'ensemble', base: number): Cluster {
  rigSync('install.sh', [], 600_000);
  rigSync('stop.sh', [name]);
  const out = rigSync('start.sh', [name, mode, String(base)]).trim().split('\n');
  const connect = out[out.length - 1] as string;
  return { name, base, connect, ports: clientPorts(connect), stop: () => void rigSync('stop.sh', [name]) };
}

/**
 * The ensemble a file uses when it injects no faults: the shared one of scripts/test.sh
 * (FLOWGATE_ZK_ENSEMBLE), or else a private one started here (plain `npx jest`).
 */
export function sharedOrPrivateEnsemble(name: string, base: number): { connect: string; stop(): void } {
  const shared = process.env.FLOWGATE_ZK_ENSEMBLE;
  if (shared !== undefined && shared !== '') return { connect: shared, stop: () => undefined };
  return startCluster(name, 'ensemble', base);
}

/**
 * The standalone server a file uses when it injects no faults into the server itself: the shared one
 * of scripts/test.sh (FLOWGATE_ZK_STANDALONE), or else a private one started here (plain `npx jest`).
 */
export function sharedOrPrivateStandalone(name: string, base: number): { connect: string; stop(): void } {
  const shared = process.env.FLOWGATE_ZK_STANDALONE;
  if (shared !== undefined && shared !== '') return { connect: shared, stop: () => undefined };
  return startCluster(name, 'standalone', base);
}

/**
 * For a test file on one standalone server: starts it before the file's tests (shared or private,
 * as {@link sharedOrPrivateStandalone}) with a root of the file's own, and removes that root and
 * stops a private server after them. Call at the top of the file; read `connect` inside tests.
 */
export function standaloneForFile(name: string, base: number, rootLabel: string): { readonly connect: string; readonly root: string } {
  let zk: { connect: string; stop(): void } | undefined;
  const root = uniqueRoot(rootLabel);
  beforeAll(() => {
    zk = sharedOrPrivateStandalone(name, base);
  });
  afterAll(async () => {
    if (zk === undefined) return;
    await removeRoot(zk.connect, root).catch(() => undefined);
    zk.stop();
  });
  return {
    get connect(): string {
      if (zk === undefined) throw new Error('standaloneForFile: the server starts in beforeAll; read connect inside a test');
      return zk.connect;
    },
    root,
  };
}

export function clientPorts(connect: string): number[] {
  return connect
    .replace(/\/.*$/, '')
    .split(',')
    .map((hostPort) => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)));
}

/** member.sh <name> <n> <kill|pause|resume|restart|status>. */
export function member(cluster: Cluster, n: number, action: 'kill' | 'pause' | 'resume' | 'restart'): Promise<string> {
  return rig('member.sh', [cluster.name, String(n), action]);
}

/** What member.sh status says: leader|follower|standalone|down|paused|not-serving. */
export function memberStatus(cluster: Cluster, n: number): Promise<string> {
  return new Promise((resolve) => {
    // It exits 1 for down|paused|not-serving: read its stdout either way.
    execFile('bash', [path.join(SCRIPTS, 'member.sh'), cluster.name, String(n), 'status'], { cwd: REPO, encoding: 'utf8', timeout: 30_000 }, (_error, stdout) => {
      resolve(stdout.trim().replace(/^Mode: /, '') || 'unknown');
    });
  });
}

/** The member number of the current leader (leader.sh). */
export async function leaderOf(cluster: Cluster): Promise<number> {
  return Number((await rig('leader.sh', [cluster.name])).trim());
}

/**
 * The connect string of the ensemble's followers only, and the leader's member number. Tests that
 * SIGSTOP the server a client is connected to give the client this, so that the paused server is
 * never the leader: a leader paused longer than syncLimit x tickTime drops its followers, and
 * ZooKeeper 3.8.0 (Debian's) was seen here to stop answering for good after such a resume.
 */
export async function followersConnect(cluster: Cluster): Promise<{ connect: string; leader: number }> {
  const leader = await leaderOf(cluster);
  return { connect: cluster.ports.filter((_, i) => i + 1 !== leader).map((port) => `127.0.0.1:${port}`).join(','), leader };
}

/** The recorded JVM pid of member n, if the pid file is there. */
export function memberPid(cluster: Cluster, n: number): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(ZK_ROOT, cluster.name, String(n), 'pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * Starts a fully stopped ensemble again with its data (sessions and znodes survive), as far as a
 * quorum: members 1 and 2. Resolves once they serve; member 3 is left to {@link healEnsemble}.
 *
 * `member.sh restart` waits until its member serves, which a lone ensemble member never does, and
 * restarts of one cluster are serialised by a lock; so member 1 is launched by a restart whose
 * script is stopped (by its pid) as soon as the JVM is up, then member 2 is restarted normally.
 */
export async function restartQuorum(cluster: Cluster): Promise<void> {
  const first = spawn('bash', [path.join(SCRIPTS, 'member.sh'), cluster.name, '1', 'restart'], { cwd: REPO, stdio: 'ignore' });
  try {
    await waitFor(() => {
      const pid = memberPid(cluster, 1);
      return pid !== undefined && isOurJvm(pid, cluster, 1);
    }, 20_000, 'member 1 JVM launched');
  } finally {
    if (first.exitCode === null) first.kill('SIGTERM');
  }
  await member(cluster, 2, 'restart');
}

/** Brings every member back to serving: resumes paused ones, restarts dead ones. */
export async function healEnsemble(cluster: Cluster): Promise<void> {
  const statuses = await Promise.all(cluster.ports.map((_, i) => memberStatus(cluster, i + 1)));
  for (const [i, status] of statuses.entries()) if (status === 'paused') await member(cluster, i + 1, 'resume');
  const down = statuses.map((s, i) => (s === 'down' ? i + 1 : 0)).filter((n) => n > 0);
  if (down.length === cluster.ports.length) await restartQuorum(cluster);
  for (const n of down) if ((await memberStatus(cluster, n)) === 'down') await member(cluster, n, 'restart');
  await waitFor(async () => (await Promise.all(cluster.ports.map((_, i) => memberStatus(cluster, i + 1)))).every((s) => s === 'leader' || s === 'follower'), 30_000, 'every member serving');
}

function isOurJvm(pid: number, cluster: Cluster, n: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(ZK_ROOT, cluster.name, String(n), 'zoo.cfg'));
  } catch {
    return false;
  }
}
