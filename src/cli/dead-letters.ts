// `flowgate dead-letters list|requeue|rm <queue>`: a DistributedQueue's dead letters, listed, moved back to the queue, or deleted.

import type { Command } from 'commander';
import { eachDeadLetter, listDeadLetters, removeDeadLetter, requeueDeadLetter, type DeadLetterPlace, type DeadLetter } from '../stores/zookeeper/dead-letters.js';
import { nodeName } from '../stores/zookeeper/znode-paths.js';
import { CliError, ExitCode, refusedAs } from './cli-errors.js';
import { addConnectionOptions, withCluster, type ClusterConnection, type ConnectionOptions } from './cluster-connection.js';
import { cell, renderTable } from './text-table.js';
import { writtenMtime } from './written-mtime.js';

/** Options of `flowgate dead-letters list`. */
export interface DeadLetterListOptions extends ConnectionOptions {
  readonly json?: boolean;
}

/** Options of `flowgate dead-letters requeue|rm`. */
export interface DeadLetterChangeOptions extends ConnectionOptions {
  readonly all?: boolean;
  readonly json?: boolean;
}

/** What `flowgate dead-letters requeue|rm --json` prints. */
export interface DeadLetterChange {
  readonly queue: string;
  readonly action: 'requeued' | 'removed';
  /** Dead letters this run moved or deleted. */
  readonly count: number;
  /** Ids asked for that were not there (moved or deleted meanwhile, or mistyped); empty with --all. */
  readonly missing: string[];
}

/** Adds the `dead-letters` commands to `program`. */
export function registerDeadLetters(program: Command): void {
  const group = program.command('dead-letters').description("list a DistributedQueue's dead letters, move them back to the queue, or delete them");
  addConnectionOptions(
    group
      .command('list')
      .description('list the dead letters of a queue, oldest first')
      .argument('<queue>', "the queue's name")
      .option('--json', 'print them as a JSON array'),
  ).action((queue: string, options: DeadLetterListOptions) =>
    withCluster(options, async (cluster) => {
      const letters = await listDeadLetters(await placeOf(cluster, queue));
      process.stdout.write(options.json ? `${JSON.stringify(letters, null, 2)}\n` : `${describeList(queue, letters)}\n`);
    }),
  );
  for (const [name, action] of [
    ['requeue', 'requeued'],
    ['rm', 'removed'],
  ] as const) {
    addConnectionOptions(
      group
        .command(name)
        .description(
          action === 'requeued'
            ? 'move dead letters back to the tail of the queue (deliveries counted from 0 again, priority kept)'
            : 'delete dead letters for good',
        )
        .argument('<queue>', "the queue's name")
        .argument('[ids...]', 'the dead letters, by id (as `list` shows them)')
        .option('--all', 'every dead letter of the queue')
        .option('--json', 'print the result as JSON'),
    ).action(async (queue: string, ids: string[], options: DeadLetterChangeOptions) => {
      if (options.all === true && ids.length > 0) throw new CliError(ExitCode.USAGE, `give ids or --all, not both`);
      if (options.all !== true && ids.length === 0) throw new CliError(ExitCode.USAGE, `give the ids of the dead letters to ${name === 'rm' ? 'delete' : 'requeue'}, or --all`);
      const result = await withCluster(options, (cluster) => change(cluster, queue, action, options.all === true ? undefined : ids));
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${describeChange(result)}\n`);
      if (result.missing.length > 0) throw new CliError(ExitCode.NOT_FOUND, `${result.missing.length} of the dead letters asked for were not there`);
    });
  }
}

/** The nodes of the queue named `queue`, with ZooKeeper's clock taken as the local one plus `offsetMs`; exit 4 when there is no such queue. */
async function placeOf(cluster: ClusterConnection, queue: string, offsetMs = Date.now() - performance.now()): Promise<DeadLetterPlace> {
  const base = queueBase(cluster, queue);
  if ((await cluster.session.exists(`${base}/dead`)) === null) {
    throw new CliError(ExitCode.NOT_FOUND, `no queue '${cell(queue)}' under ${cluster.options.root}: no DistributedQueue of that name has run there`);
  }
  return { session: cluster.session, items: `${base}/items`, dead: `${base}/dead`, acls: cluster.acls, serverNow: () => performance.now() + offsetMs };
}

function queueBase(cluster: ClusterConnection, queue: string): string {
  return `${cluster.options.root}/queues/${nodeName(queue)}`;
}

/**
 * ZooKeeper's clock minus `performance.now()`, learned from a write of the queue's own node with
 * its data unchanged (a requeued item's turn is on ZooKeeper's clock, not this host's); the local
 * wall clock's when a DistributedQueue rewrote that node meanwhile, or there is none.
 */
async function serverOffset(cluster: ClusterConnection, queue: string): Promise<number | undefined> {
  const mtime = await writtenMtime(cluster, queueBase(cluster, queue));
  return mtime === undefined ? undefined : mtime - performance.now();
}

async function change(cluster: ClusterConnection, queue: string, action: 'requeued' | 'removed', ids: string[] | undefined): Promise<DeadLetterChange> {
  const offset = action === 'requeued' ? await serverOffset(cluster, queue) : undefined;
  const place = await placeOf(cluster, queue, offset);
  const work = action === 'requeued' ? (name: string) => requeueDeadLetter(place, name) : (name: string) => removeDeadLetter(place, name);
  const done = new Set<string>();
  const what = `to ${action === 'requeued' ? 'move' : 'delete'} dead letters of queue '${cell(queue)}'`;
  const count = await refusedAs(what, cluster.options.auth !== undefined, () =>
    eachDeadLetter(place, ids, async (name) => {
      await work(name);
      done.add(name);
    }),
  );
  return { queue, action, count, missing: ids === undefined ? [] : ids.filter((id) => !done.has(id)) };
}

function describeList(queue: string, letters: ReadonlyArray<DeadLetter<unknown>>): string {
  if (letters.length === 0) return `queue '${cell(queue)}' has no dead letters`;
  const rows = letters.map((l) => [l.id, String(l.attempts), cell(l.error, 60), cell(JSON.stringify(l.item) ?? 'undefined', 60)]);
  return `queue '${cell(queue)}': ${letters.length} dead letter${letters.length === 1 ? '' : 's'}\n${renderTable([{ header: 'ID' }, { header: 'ATTEMPTS', right: true }, { header: 'ERROR' }, { header: 'ITEM' }], rows)}`;
}

function describeChange(result: DeadLetterChange): string {
  const moved = `${result.action === 'requeued' ? 'moved back to' : 'deleted from'} queue '${cell(result.queue)}'`;
  const line = `${result.count} dead letter${result.count === 1 ? '' : 's'} ${moved}`;
  return result.missing.length === 0 ? line : `${line}; not found: ${result.missing.map((id) => cell(id, 80)).join(', ')}`;
}
