// `flowgate reset <limiter> <key>`: removes the key's bucket znode, so that the key is full again for the whole cluster.

import type { Command } from 'commander';
import { decodeBucket, storedTokensAt } from '../stores/zookeeper/bucket-codec.js';
import { statTime } from '../stores/zookeeper/server-clock.js';
import { ZkCode, zkCode } from '../stores/zookeeper/zookeeper-session.js';
import { CliError, ExitCode, refusedAs } from './cli-errors.js';
import { addConnectionOptions, withCluster, type ClusterConnection, type ConnectionOptions } from './cluster-connection.js';
import { estimateNow } from './cluster-snapshot.js';
import { cell, formatNumber } from './text-table.js';

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
}

/** Adds the `reset` command to `program`. */
export function registerReset(program: Command): void {
  const command = program
    .command('reset')
    .description("make a key's bucket full again, for the whole cluster (removes its znode)")
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
  for (let attempt = 0; attempt < 10; attempt++) {
    let reply;
    try {
      reply = await session.getData(path);
    } catch (error) {
      if (zkCode(error) !== ZkCode.NO_NODE) throw error;
      await requireLimiter(cluster, limiter);
      return { limiter, key, existed: false, tokensBefore: null, burst: null };
    }
    let tokensBefore: number | null = null;
    let burst: number | null = null;
    try {
      const bucket = decodeBucket(reply.data);
      const mtime = statTime(reply.stat.mtime);
      const since = bucket.at === undefined ? mtime : Math.min(mtime, bucket.at);
      if (Number.isFinite(bucket.burst) && Number.isFinite(bucket.ratePerMs)) {
        burst = bucket.burst;
        tokensBefore = storedTokensAt(bucket.tokens, since, estimateNow(mtime, Date.now()).now, bucket.burst, bucket.ratePerMs);
      }
    } catch {
      // Not flowgate's data: it is removed all the same, the key's bucket is where it is.
    }
    try {
      // Version-checked, so that the figures printed are those of the bucket removed.
      await refusedAs(`to delete the bucket of key '${cell(key)}' (${path})`, cluster.options.auth !== undefined, () => session.remove(path, reply.stat.version));
      return { limiter, key, existed: true, tokensBefore, burst };
    } catch (error) {
      const code = zkCode(error);
      if (code === ZkCode.NO_NODE) return { limiter, key, existed: false, tokensBefore: null, burst: null };
      if (code !== ZkCode.BAD_VERSION) throw error;
    }
  }
  throw new CliError(ExitCode.FAILURE, `the bucket of key '${key}' of limiter '${limiter}' changed under every one of 10 attempts to remove it; try again`);
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
  return `reset ${what}: bucket removed${before}; the key is full again`;
}
