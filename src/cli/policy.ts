// `flowgate policy get|set|rm|list`: the limiter policies published for the whole cluster (PolicyRegistry).

import { Option, type Command } from 'commander';
import type { PolicyUpdate, PublishedPolicy } from '../policy-update.js';
import { CliError, ExitCode, refusedAs } from './cli-errors.js';
import { addConnectionOptions, withCluster, type ClusterConnection, type ConnectionOptions } from './cluster-connection.js';
import { readLimiterNode } from './limiter-node.js';
import { duration, nonNegativeInteger, positiveInteger, positiveNumber } from './option-values.js';
import { describeQueue, describeRate, policyJson, renderPolicy } from './policy-view.js';
import { renderTable } from './text-table.js';

/** Options of every `policy` subcommand. */
export interface PolicyOptions extends ConnectionOptions {
  readonly json?: boolean;
}

/** Options of `flowgate policy set`. */
export interface PolicySetOptions extends PolicyOptions {
  readonly rate?: number;
  /** Milliseconds. */
  readonly interval?: number;
  readonly burst?: number;
  readonly queueMaxSize?: number;
  /** Milliseconds. */
  readonly queueMaxWait?: number;
  /** false with `--no-queue`. */
  readonly queue: boolean;
  /** `--create`: publish for a limiter no process has used yet (else a name nothing knows is refused, as a likely typo). */
  readonly create?: boolean;
}

/** Adds `policy get|set|rm|list` to `program`. */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('read and change the policies published for the whole cluster');

  addConnectionOptions(
    policy
      .command('get')
      .description("print a limiter's published policy (exit 4 when none is published)")
      .argument('<limiter>', "the limiter's name")
      .option('--json', 'print it as JSON'),
  ).action((limiter: string, options: PolicyOptions) => withCluster(options, (cluster) => get(cluster, limiter, options)));

  addConnectionOptions(
    policy
      .command('set')
      .description("publish a change of a limiter's policy; every connected process applies it through a watch, within tens of ms")
      .argument('<limiter>', "the limiter's name")
      .addOption(new Option('--rate <n>', 'tokens added per interval (> 0, fractions allowed)').argParser(positiveNumber))
      .addOption(new Option('--interval <duration>', "refill interval, such as '1s', '500ms', '1m'").argParser(duration(1)))
      .addOption(new Option('--burst <n>', 'bucket capacity, a whole number >= 1').argParser(positiveInteger))
      .addOption(new Option('--queue-max-size <n>', 'most takes waiting per key (whole number >= 0)').argParser(nonNegativeInteger))
      .addOption(new Option('--queue-max-wait <duration>', "longest wait in the queue, such as '5s'").argParser(duration(0)))
      .addOption(new Option('--no-queue', 'turn the overflow queue off').conflicts(['queueMaxSize', 'queueMaxWait']))
      .option('--create', 'publish for a limiter no process has used yet (without it, a name nothing knows exits 4)')
      .option('--json', 'print the published policy as JSON'),
  ).action((limiter: string, options: PolicySetOptions, command: Command) => {
    const update = updateOf(options);
    if (Object.keys(update).length === 0) command.error('error: nothing to change: give at least one of --rate, --interval, --burst, --queue-max-size, --queue-max-wait, --no-queue', { exitCode: ExitCode.USAGE, code: 'flowgate.nothingToChange' });
    return withCluster(options, (cluster) => set(cluster, limiter, update, options));
  });

  addConnectionOptions(
    policy
      .command('rm')
      .description('remove a published policy: processes go back to their own options (exit 0 even when none was published)')
      .argument('<limiter>', "the limiter's name")
      .option('--json', 'print the result as JSON'),
  ).action((limiter: string, options: PolicyOptions) => withCluster(options, (cluster) => remove(cluster, limiter, options)));

  addConnectionOptions(policy.command('list').description('list every published policy').option('--json', 'print them as a JSON array')).action((options: PolicyOptions) =>
    withCluster(options, (cluster) => list(cluster, options)),
  );
}

async function get(cluster: ClusterConnection, limiter: string, options: PolicyOptions): Promise<void> {
  const registry = cluster.policies();
  const record = await registry.get(limiter);
  if (record === undefined && (await cluster.session.exists(registry.pathOf(limiter))) !== null) {
    throw new CliError(
      ExitCode.FAILURE,
      `the policy node ${registry.pathOf(limiter)} holds data this flowgate cannot read (a newer format, or a hand edit): the processes use their own options; remove it with 'flowgate policy rm ${limiter}'`,
    );
  }
  if (record === undefined) {
    const node = await readLimiterNode(cluster.session, cluster.paths.limiter(limiter));
    const known = node === undefined ? `, and no limiter '${limiter}' under ${cluster.options.root}` : node.rate !== undefined && node.intervalMs !== undefined ? ` (its processes use their own options: ${describeRate(node.rate, node.intervalMs)}, burst ${node.burst ?? '?'})` : ' (its processes use their own options)';
    throw new CliError(ExitCode.NOT_FOUND, `no published policy for limiter '${limiter}'${known}`);
  }
  print(options, policyJson(record), renderPolicy(policyJson(record)));
}

async function set(cluster: ClusterConnection, limiter: string, update: PolicyUpdate, options: PolicySetOptions): Promise<void> {
  const registry = cluster.policies();
  let base: PublishedPolicy | undefined;
  if ((await registry.get(limiter)) === undefined) {
    // Nothing published yet: start from the options the limiter's processes recorded in its node.
    const node = await readLimiterNode(cluster.session, cluster.paths.limiter(limiter));
    // A name nothing knows (no limiter node, no policy node, even an unreadable one) is most likely
    // a typo: publishing under it would change nothing.
    if (node === undefined && options.create !== true && (await cluster.session.exists(registry.pathOf(limiter))) === null) {
      throw new CliError(
        ExitCode.NOT_FOUND,
        `no limiter '${limiter}' under ${cluster.options.root}: no process has used it and no policy is published for it; check the name, or give --create to publish one for a limiter that has not started yet`,
      );
    }
    if (node?.rate !== undefined && node.intervalMs !== undefined && node.burst !== undefined) base = { rate: node.rate, intervalMs: node.intervalMs, burst: node.burst };
    else if (update.rate === undefined) {
      throw new CliError(ExitCode.USAGE, `limiter '${limiter}' has no published policy, and its node does not record its options: give --rate (with --interval and --burst if they are not 1s and ceil(rate))`);
    }
  }
  const written = await refusedAs(`to write ${registry.pathOf(limiter)}`, cluster.options.auth !== undefined, () => registry.set(limiter, update, base));
  const record = policyJson(written);
  print(options, record, `published version ${record.version} of the policy of limiter '${limiter}':\n${renderPolicy(record)}`);
}

async function remove(cluster: ClusterConnection, limiter: string, options: PolicyOptions): Promise<void> {
  const registry = cluster.policies();
  const removed = await refusedAs(`to delete ${registry.pathOf(limiter)}`, cluster.options.auth !== undefined, () => registry.remove(limiter));
  const text = removed ? `removed the published policy of limiter '${limiter}': its processes go back to their own options` : `limiter '${limiter}' had no published policy: nothing removed`;
  print(options, { name: limiter, removed }, text);
}

async function list(cluster: ClusterConnection, options: PolicyOptions): Promise<void> {
  const records = (await cluster.policies().list()).map(policyJson);
  const text =
    records.length === 0
      ? `no published policies under ${cluster.options.root}`
      : renderTable(
          [{ header: 'limiter' }, { header: 'version', right: true }, { header: 'rate' }, { header: 'burst', right: true }, { header: 'queue' }, { header: 'updated' }, { header: 'by' }],
          records.map((p) => [p.name, String(p.version), describeRate(p.rate, p.intervalMs), String(p.burst), describeQueue(p.queue), p.updatedAt, p.by]),
        );
  print(options, records, text);
}

/** The policy update the options ask for (only what was given). */
function updateOf(options: PolicySetOptions): PolicyUpdate {
  const update: PolicyUpdate = {};
  if (options.rate !== undefined) update.rate = options.rate;
  if (options.interval !== undefined) update.interval = options.interval;
  if (options.burst !== undefined) update.burst = options.burst;
  if (!options.queue) update.queue = false;
  else if (options.queueMaxSize !== undefined || options.queueMaxWait !== undefined) {
    update.queue = { ...(options.queueMaxSize !== undefined && { maxSize: options.queueMaxSize }), ...(options.queueMaxWait !== undefined && { maxWait: options.queueMaxWait }) };
  }
  return update;
}

function print(options: PolicyOptions, json: unknown, text: string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
}
