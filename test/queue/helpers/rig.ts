// ZooKeeper clusters for the queue tests: the integration tests' rig (test/zookeeper/helpers/cluster.ts), with faults allowed on private clusters only.

import {
  REPO,
  clientPorts,
  followersConnect,
  healEnsemble,
  leaderOf,
  member as memberAction,
  memberStatus,
  restartQuorum,
  startCluster as startRigCluster,
  type Cluster as RigCluster,
} from '../../zookeeper/helpers/cluster.js';
import { waitFor } from '../../helpers/wait.js';

export { REPO, followersConnect, leaderOf };

/** A cluster a queue test uses: private (`owned`: started here, faults allowed) or the shared one. */
export interface Cluster extends RigCluster {
  /** Whether this file started it (and so may inject faults and must stop it). */
  readonly owned: boolean;
}

/** Starts a fresh private cluster on base ports 27000-28999, the queue tests' range. */
export function startCluster(name: string, mode: 'standalone' | 'ensemble', base: number): Cluster {
  if (base < 27000 || base > 28999) throw new Error(`queue tests own base ports 27000-28999, not ${base}`);
  return { ...startRigCluster(name, mode, base), owned: true };
}

/** The shared ensemble of scripts/test.sh (FLOWGATE_ZK_ENSEMBLE), if any. */
export function sharedEnsemble(): Cluster | undefined {
  const connect = process.env.FLOWGATE_ZK_ENSEMBLE;
  if (connect === undefined || connect === '') return undefined;
  return { name: process.env.FLOWGATE_ZK_ENSEMBLE_NAME ?? 'shared', base: 0, connect, ports: clientPorts(connect), owned: false, stop: () => undefined };
}

/** member.sh kill|pause|resume|restart on a private cluster (never on the shared one). */
export function member(cluster: Cluster, n: number, action: 'kill' | 'pause' | 'resume' | 'restart'): Promise<string> {
  if (!cluster.owned) throw new Error('faults only on a private cluster');
  return memberAction(cluster, n, action);
}

/** Starts every member of a fully stopped ensemble again, keeping its data; resolves once all serve. */
export async function restartAll(cluster: Cluster): Promise<void> {
  await restartQuorum(cluster);
  await memberAction(cluster, 3, 'restart');
  await waitFor(async () => (await Promise.all(cluster.ports.map((_, i) => memberStatus(cluster, i + 1)))).every((s) => s === 'leader' || s === 'follower'), 30_000, 'every member serving');
}

/** Brings back every member: resumes paused ones, restarts dead ones; waits until all serve. */
export const heal = healEnsemble;
