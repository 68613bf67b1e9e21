// Reads one consistent-enough picture of a flowgate root (limiters, hot keys, queues, members) without writing anything.

import type { PolicyRecord } from '../stores/zookeeper/policy-registry.js';
import { storedTokensAt } from '../stores/zookeeper/bucket-codec.js';
import { nodeName } from '../stores/zookeeper/znode-paths.js';
import { waitingCount } from '../reservation.js';
import { childrenOf, scanBuckets, type BucketScan } from './bucket-scan.js';
import type { ClusterConnection } from './cluster-connection.js';
import { mapConcurrently } from './concurrent-map.js';
import { readLimiterNode, type LimiterNodeData } from './limiter-node.js';
import { readMembers, type MemberInfo } from './member-nodes.js';
import { policyJson, type PolicyJson } from './policy-view.js';
import { readQueues } from './queue-nodes.js';

/** What `flowgate status` reads; the JSON of `flowgate status --json` (field names are stable; see docs/cli.md). */
export interface ClusterSnapshot {
  /** Version of this document's shape. */
  readonly v: 1;
  readonly connect: string;
  readonly root: string;
  /** When the snapshot was taken, on the CLI host's clock (ISO). */
  readonly takenAt: string;
  readonly clock: SnapshotClock;
  readonly limiters: LimiterStatus[];
  readonly queues: QueueStatus[];
  readonly members: { readonly count: number; readonly degraded: number; readonly list: MemberInfo[] };
}

/**
 * The "now" that tokens and waits are computed for. The CLI never writes, so it cannot learn
 * ZooKeeper's clock exactly; every mtime it reads is a lower bound of it. `now` is the CLI host's
 * wall clock, raised to the latest mtime seen when that is ahead (`source: 'zookeeper'`).
 */
export interface SnapshotClock {
  /** Epoch ms. */
  readonly now: number;
  readonly source: 'local' | 'zookeeper';
  /** The latest znode mtime read (epoch ms), or null when none was read. */
  readonly zookeeperAtLeast: number | null;
  /** How far the local clock is behind ZooKeeper's, at least (0 when it is not known to be behind). */
  readonly localBehindMs: number;
}

/** One limiter: as its node, its published policy, its buckets and its members describe it. */
export interface LimiterStatus {
  /** The limiter's name, or null when nothing read names it (an older flowgate wrote its node). */
  readonly name: string | null;
  /** Its node name under `<root>/buckets`: base64url SHA-256 of the name. */
  readonly hash: string;
  /** Options as the limiter's processes recorded them in its node; null when not recorded. */
  readonly rate: number | null;
  readonly intervalMs: number | null;
  readonly burst: number | null;
  readonly strict: boolean | null;
  /** The published policy, or null when none is published. */
  readonly policy: PolicyJson | null;
  /** Members reporting this limiter, and how many of them apply the published policy's version. */
  readonly membersReporting: number;
  readonly membersOnPolicy: number;
  readonly buckets: {
    /** Bucket znodes (keys not yet full again, or full but not yet cleaned up). */
    readonly total: number;
    readonly scanned: number;
    /** True when `total` exceeded the scan limit: the figures below cover `scanned` buckets only. */
    readonly capped: boolean;
    /** Scanned buckets below burst. */
    readonly belowBurst: number;
    /** Waiters in the books of the scanned buckets (cluster-wide queue waiters by key). */
    readonly waiting: number;
    readonly unreadable: number;
  };
  /** The scanned keys below burst with the fewest tokens now, fewest first. */
  readonly hotKeys: HotKey[];
  /** The overflow queue as the members report it: waiters summed, longest wait the maximum. */
  readonly queue: { readonly queued: number; readonly oldestWaitMs: number };
}

/** A key with few tokens. */
export interface HotKey {
  readonly key: string;
  /** Tokens in the shared bucket now (negative: owed to waiters). Tokens leased to processes are not in it. */
  readonly tokens: number;
  readonly burst: number | null;
  readonly ratePerSec: number | null;
  /** Waiters of the cluster-wide queue holding a reservation on this bucket. */
  readonly waiting: number;
}

/** One DistributedQueue. */
export interface QueueStatus {
  readonly name: string | null;
  readonly hash: string;
  readonly items: number;
  readonly inProgress: number;
  readonly dead: number;
  /** How long the oldest item has been in the queue (ms), or null when it is empty. */
  readonly oldestWaitMs: number | null;
}

/** How much of the buckets a snapshot reads. */
export interface SnapshotOptions {
  /** Hot keys per limiter. */
  readonly keys: number;
  /** Buckets read per limiter at most. */
  readonly scanLimit: number;
}

interface LimiterReading {
  readonly hash: string;
  readonly node: LimiterNodeData | undefined;
  readonly scan: BucketScan | undefined;
}

/** Reads the whole root: members, policies, queues, and every limiter's buckets (up to the scan limit). */
export async function readClusterSnapshot(cluster: ClusterConnection, options: SnapshotOptions): Promise<ClusterSnapshot> {
  const { session, paths } = cluster;
  const root = cluster.options.root;
  const [bucketHashes, policies, memberList, queueList] = await Promise.all([
    childrenOf(session, `${root}/buckets`),
    cluster.policies().list(),
    readMembers(session, paths.members),
    readQueues(session, `${root}/queues`),
  ]);
  const members = memberList.members;

  // A limiter is known by its bucket node, its published policy, or a member's report.
  const names = new Map<string, string>();
  for (const policy of policies) names.set(nodeName(policy.name), policy.name);
  for (const member of members) for (const name of Object.keys(member.limiters)) names.set(nodeName(name), name);
  const hashes = [...new Set([...bucketHashes, ...names.keys()])];
  const readings = await mapConcurrently(hashes, 2, async (hash): Promise<LimiterReading> => {
    const node = await readLimiterNode(session, `${root}/buckets/${hash}`);
    const scan = node === undefined ? undefined : await scanBuckets(session, `${root}/buckets/${hash}`, options.scanLimit);
    return { hash, node, scan };
  });

  const latest = Math.max(memberList.latestMtime, queueList.latestMtime, ...readings.map((r) => r.scan?.latestMtime ?? Number.NEGATIVE_INFINITY));
  const clock = estimateNow(latest, Date.now());
  const policyByHash = new Map(policies.map((p) => [nodeName(p.name), p]));
  const limiters = readings.map((reading) => limiterStatus(reading, names.get(reading.hash), policyByHash.get(reading.hash), members, clock.now, options.keys));
  limiters.sort((a, b) => (a.name ?? '\uffff').localeCompare(b.name ?? '\uffff') || a.hash.localeCompare(b.hash));

  return {
    v: 1,
    connect: cluster.options.zk,
    root,
    takenAt: new Date().toISOString(),
    clock,
    limiters,
    queues: queueList.queues.map(({ oldestCreatedAt, ...queue }) => ({ ...queue, oldestWaitMs: oldestCreatedAt === null ? null : Math.max(0, clock.now - oldestCreatedAt) })),
    members: { count: members.length, degraded: members.filter((m) => m.state === 'degraded').length, list: members },
  };
}

/** The time to compute tokens for: the local wall clock, unless ZooKeeper is known to be ahead of it. */
export function estimateNow(latestMtime: number, localNow: number): SnapshotClock {
  const known = Number.isFinite(latestMtime);
  const ahead = known && latestMtime > localNow;
  return {
    now: ahead ? latestMtime : localNow,
    source: ahead ? 'zookeeper' : 'local',
    zookeeperAtLeast: known ? latestMtime : null,
    localBehindMs: ahead ? latestMtime - localNow : 0,
  };
}

function limiterStatus(reading: LimiterReading, knownName: string | undefined, policy: PolicyRecord | undefined, members: readonly MemberInfo[], now: number, keys: number): LimiterStatus {
  const node = reading.node ?? {};
  const name = node.name ?? knownName ?? null;
  const reports = name === null ? [] : members.flatMap((m) => (m.limiters[name] === undefined ? [] : [m.limiters[name]]));
  const fallbackBurst = node.burst ?? Number.NaN;
  const fallbackRatePerMs = node.rate !== undefined && node.intervalMs !== undefined ? node.rate / node.intervalMs : Number.NaN;
  const keyed = (reading.scan?.buckets ?? []).map((bucket): HotKey => {
    const burst = Number.isFinite(bucket.burst) ? bucket.burst : fallbackBurst;
    const ratePerMs = Number.isFinite(bucket.ratePerMs) ? bucket.ratePerMs : fallbackRatePerMs;
    const known = Number.isFinite(burst) && Number.isFinite(ratePerMs);
    return {
      key: bucket.key,
      tokens: known ? storedTokensAt(bucket.tokens, bucket.since, now, burst, ratePerMs) : bucket.tokens,
      burst: Number.isFinite(burst) ? burst : null,
      ratePerSec: Number.isFinite(ratePerMs) ? ratePerMs * 1000 : null,
      waiting: known ? waitingCount(storedTokensAt(bucket.tokens, bucket.since, now, burst, ratePerMs), bucket.entries, now, ratePerMs) : bucket.entries.reduce((sum, entry) => sum + entry.count, 0),
    };
  });
  const below = keyed.filter((k) => k.burst === null || k.tokens < k.burst || k.waiting > 0);
  below.sort((a, b) => a.tokens - b.tokens || b.waiting - a.waiting || a.key.localeCompare(b.key));
  return {
    name,
    hash: reading.hash,
    rate: node.rate ?? null,
    intervalMs: node.intervalMs ?? null,
    burst: node.burst ?? null,
    strict: node.strict ?? null,
    policy: policy === undefined ? null : policyJson(policy),
    membersReporting: reports.length,
    membersOnPolicy: policy === undefined ? 0 : reports.filter((r) => r.policyVersion === policy.version).length,
    buckets: {
      total: reading.scan?.total ?? 0,
      scanned: reading.scan?.buckets.length ?? 0,
      capped: reading.scan?.capped ?? false,
      belowBurst: below.length,
      waiting: keyed.reduce((sum, k) => sum + k.waiting, 0),
      unreadable: reading.scan?.unreadable ?? 0,
    },
    hotKeys: below.slice(0, keys),
    queue: { queued: reports.reduce((sum, r) => sum + r.queued, 0), oldestWaitMs: reports.reduce((max, r) => Math.max(max, r.oldestWaitMs), 0) },
  };
}
