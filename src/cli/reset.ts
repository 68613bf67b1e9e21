// `flowgate reset <limiter> <key>`: makes the key's bucket full again for the whole cluster (removes its znode, or forgives its waiters' debt).

import type { Command } from 'commander';
import { monotonicClock } from '../clock.js';
import { existsAtLeader, resetBucket, type BucketShape } from '../stores/zookeeper/bucket-cas.js';
import { decodeBucket, storedTokensAt, type BucketData } from '../stores/zookeeper/bucket-codec.js';
import { ServerClock, statTime } from '../stores/zookeeper/server-clock.js';
import { ZkCode, zkCode } from '../stores/zookeeper/zookeeper-session.js';
import { CliError, ExitCode, refusedAs } from './cli-errors.js';
import { addConnectionOptions, withCluster, type ClusterConnection, type ConnectionOptions } from './cluster-connection.js';
import { estimateNow } from './cluster-snapshot.js';
import { readLimiterNode } from './limiter-node.js';
import { cell, formatNumber } from './text-table.js';
import { writtenMtime } from './written-mtime.js';

/** Options of `flowgate reset`. */
export interface ResetOptions extends ConnectionOptions {
  readonly json?: boolean;
}

/** What `flowgate reset --json` prints. */
export interface ResetResult {
  readonly limiter: string;
  readonly key: string;
  /** Whether the key had a bucket (false: it was full already). */
  readonly existed: boolean;
  /** Tokens it held just before (null when it had none, or they could not be computed). */
  readonly tokensBefore: number | null;
  readonly burst: number | null;
  /** Waiters of the cluster-wide queue booked in it: they keep their order and are paid from the full burst first (0: the znode was removed). */
  readonly waiting: number;
}

/** Adds the `reset` command to `program`. */
export function registerReset(program: Command): void {
  const command = program
    .command('reset')
    .description("make a key's bucket full again, for the whole cluster (removes its znode; with waiters queued, pays them from the full burst first)")
    .argument('<limiter>', "the limiter's name")
    .argument('<key>', 'the key, exactly as the app passes it')
    .option('--json', 'print the result as JSON');
  addConnectionOptions(command).action(async (limiter: string, key: string, options: ResetOptions) => {
    const result = await withCluster(options, (cluster) => reset(cluster, limiter, key));
    process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${describe(result)}\n`);
  });
}

async function reset(cluster: ClusterConnection, limiter: string, key: string): Promise<ResetResult> {
  const { session, paths } = cluster;
  const path = paths.bucket(limiter, key);
  const bucketName = `the bucket of key '${cell(key)}' (${path})`;
  for (let attempt = 0; attempt < 10; attempt++) {
    let reply;
    try {
      reply = await session.getData(path);
    } catch (error) {
      if (zkCode(error) !== ZkCode.NO_NODE) throw error;
      // A read may come from a server that has not applied a write made just before elsewhere.
      if (await existsAtLeader(session, path)) continue;
      await requireLimiter(cluster, limiter);
      return { limiter, key, existed: false, tokensBefore: null, burst: null, waiting: 0 };
    }
    let bucket: BucketData | undefined;
    try {
      bucket = decodeBucket(reply.data);
    } catch {
      // Not flowgate's data: it is removed all the same, the key's bucket is where it is.
    }
    const stored = bucket !== undefined && Number.isFinite(bucket.burst) && Number.isFinite(bucket.ratePerMs) ? { burst: bucket.burst, ratePerMs: bucket.ratePerMs } : undefined;
    if (bucket !== undefined && bucket.book.entries.length > 0) {
      const shape = (await policyShape(cluster, limiter)) ?? stored ?? (await limiterNodeShape(cluster, limiter));
      if (shape === undefined) {
        // Deleting it would release its waiters at once, and let the next takes go with them.
        throw new CliError(
          ExitCode.FAILURE,
          `the bucket of key '${cell(key)}' of limiter '${cell(limiter)}' has waiters booked, but neither it, a published policy nor the limiter's node says its burst and rate (written by an older flowgate): not reset; try again once a current process has written it`,
        );
      }
      // Waiters are booked in it: they keep their order and are paid from the full burst first (as
      // the store's reset does), on ZooKeeper's clock.
      const clock = await learnServerClock(cluster, limiter);
      const target = { session, clock, acls: cluster.acls, policy: shape, key, path, counter: { writes: 0, conflicts: 0 } };
      const done = await refusedAs(`to write ${bucketName}`, cluster.options.auth !== undefined, () => resetBucket(target));
      return { limiter, key, existed: done.existed, tokensBefore: done.existed ? done.tokensBefore : null, burst: shape.burst, waiting: done.waiting };
    }
    let tokensBefore: number | null = null;
    if (bucket !== undefined && stored !== undefined) {
      const mtime = statTime(reply.stat.mtime);
      const since = bucket.at === undefined ? mtime : Math.min(mtime, bucket.at);
      tokensBefore = storedTokensAt(bucket.tokens, since, estimateNow(mtime, Date.now()).now, stored.burst, stored.ratePerMs);
    }
    try {
      // Version-checked, so that the figures printed are those of the bucket removed (and nobody
      // booked waiters in it meanwhile).
      await refusedAs(`to delete ${bucketName}`, cluster.options.auth !== undefined, () => session.remove(path, reply.stat.version));
      return { limiter, key, existed: true, tokensBefore, burst: stored?.burst ?? null, waiting: 0 };
    } catch (error) {
      const code = zkCode(error);
      if (code === ZkCode.NO_NODE) return { limiter, key, existed: false, tokensBefore: null, burst: null, waiting: 0 };
      if (code !== ZkCode.BAD_VERSION) throw error;
    }
  }
  throw new CliError(ExitCode.FAILURE, `the bucket of key '${key}' of limiter '${limiter}' changed under every one of 10 attempts to reset it; try again`);
}

/** The burst and rate of a published policy of `limiter`: what its processes apply now, when there is one. */
async function policyShape(cluster: ClusterConnection, limiter: string): Promise<BucketShape | undefined> {
  const policy = await cluster.policies().get(limiter);
  return policy === undefined ? undefined : { burst: policy.burst, ratePerMs: policy.rate / policy.intervalMs };
}

/** The burst and rate its processes recorded in the limiter's node, when they did. */
async function limiterNodeShape(cluster: ClusterConnection, limiter: string): Promise<BucketShape | undefined> {
  const node = await readLimiterNode(cluster.session, cluster.paths.limiter(limiter));
  if (node?.burst === undefined || node.rate === undefined || node.intervalMs === undefined) return undefined;
  return { burst: node.burst, ratePerMs: node.rate / node.intervalMs };
}

/**
 * ZooKeeper's clock, learned from a write of the limiter's node with its data unchanged (the book's
 * turns are on ZooKeeper's clock, not this host's). When that node is missing or was rewritten
 * meanwhile, the clock knows only the bucket's own mtime once read: it then counts less refill
 * than there was, never more.
 */
async function learnServerClock(cluster: ClusterConnection, limiter: string): Promise<ServerClock> {
  const clock = new ServerClock(monotonicClock);
  const mtime = await writtenMtime(cluster, cluster.paths.limiter(limiter));
  if (mtime !== undefined) clock.observe(mtime);
  return clock;
}

/** A key without a bucket is full; but a limiter nobody knows is more likely a typo: exit 4. */
async function requireLimiter(cluster: ClusterConnection, limiter: string): Promise<void> {
  if ((await cluster.session.exists(cluster.paths.limiter(limiter))) !== null) return;
  if ((await cluster.policies().get(limiter)) !== undefined) return;
  throw new CliError(ExitCode.NOT_FOUND, `no limiter '${limiter}' under ${cluster.options.root}: no process has used it and no policy is published for it`);
}

function describe(result: ResetResult): string {
  const what = `key '${cell(result.key)}' of limiter '${cell(result.limiter)}'`;
  if (!result.existed) return `${what} had no bucket: it is full already`;
  const before = result.tokensBefore === null ? '' : ` (it held ${formatNumber(result.tokensBefore)} of ${result.burst} tokens)`;
  if (result.waiting > 0) {
    const waiters = `${result.waiting} waiter${result.waiting === 1 ? '' : 's'}`;
    return `reset ${what}${before}: full again; the ${waiters} of its queue keep their order and are paid from the full burst first`;
  }
  return `reset ${what}: bucket removed${before}; the key is full again`;
}
