// `flowgate status`: limiters and hot keys, queues, members; once, as JSON, or redrawn in place until Ctrl-C.

import { Option, type Command } from 'commander';
import { toCliError } from './cli-errors.js';
import { addConnectionOptions, withCluster, type ClusterConnection, type ConnectionOptions } from './cluster-connection.js';
import { readClusterSnapshot, type ClusterSnapshot, type SnapshotOptions } from './cluster-snapshot.js';
import { duration, nonNegativeInteger, positiveInteger } from './option-values.js';
import { renderStatus } from './status-view.js';
import { formatMs } from './text-table.js';

/** Options of `flowgate status`. */
export interface StatusOptions extends ConnectionOptions, SnapshotOptions {
  readonly json?: boolean;
  readonly watch?: boolean;
  /** Milliseconds between refreshes with `--watch`. */
  readonly interval: number;
}

/** Moves the cursor home and clears the screen (and the scroll-back), so each frame replaces the last. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J\x1b[3J';

/** Adds the `status` command to `program`. */
export function registerStatus(program: Command): void {
  const command = program
    .command('status')
    .description('show limiters and their hot keys, queue depths, live and degraded members')
    .option('--json', 'print one JSON document (with --watch: one per line)')
    .option('--watch', 'redraw in place every --interval until Ctrl-C')
    .addOption(new Option('--interval <duration>', 'refresh interval of --watch').default(2000, '2s').argParser(duration(100)))
    .addOption(new Option('--keys <n>', 'hot keys shown per limiter (fewest tokens first)').default(10).argParser(nonNegativeInteger))
    .addOption(new Option('--scan-limit <n>', 'bucket znodes read per limiter at most').default(5000).argParser(positiveInteger));
  addConnectionOptions(command).action((options: StatusOptions) => status(options));
}

async function status(options: StatusOptions): Promise<void> {
  await withCluster(options, async (cluster) => {
    if (options.watch) await watch(cluster, options);
    else process.stdout.write(frame(await readClusterSnapshot(cluster, options), options));
  });
}

function frame(snapshot: ClusterSnapshot, options: StatusOptions): string {
  return options.json ? `${JSON.stringify(snapshot, null, options.watch ? undefined : 2)}\n` : `${renderStatus(snapshot)}\n`;
}

/**
 * Redraws until SIGINT or SIGTERM, then returns (exit code 0). A failure of the first frame ends
 * the command with its exit code; later failures (ZooKeeper away for a while) are shown in place.
 */
async function watch(cluster: ClusterConnection, options: StatusOptions): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The reader went away (`status --watch | head -1`): stop watching, quietly.
  process.stdout.on('error', onSignal);
  const footer = `\n(refreshing every ${formatMs(options.interval)}; Ctrl-C to stop)\n`;
  try {
    for (let first = true; !stop.signal.aborted; first = false) {
      let text: string;
      try {
        text = frame(await readClusterSnapshot(cluster, options), options);
      } catch (error) {
        if (first) throw error;
        const message = `flowgate: ${toCliError(error, { connect: options.zk, root: options.root, withAuth: options.auth !== undefined }).message}`;
        text = options.json ? `${JSON.stringify({ error: message, at: new Date().toISOString() })}\n` : `${message}\n`;
      }
      process.stdout.write(options.json ? text : CLEAR_SCREEN + text + footer);
      await sleep(options.interval, stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', onSignal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
