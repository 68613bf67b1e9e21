// The CLI's connection to a flowgate root: the shared options (--zk, --root, --auth, --timeout) and one session per run.

import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ACL } from 'node-zookeeper-client';
import { FlowgateConfigError } from '../errors.js';
import { PolicyRegistry } from '../stores/zookeeper/policy-registry.js';
import { resolveZooKeeperStoreOptions } from '../stores/zookeeper/zookeeper-store-options.js';
import { ZkCode, zkCode, ZooKeeperSession } from '../stores/zookeeper/zookeeper-session.js';
import { ZnodePaths } from '../stores/zookeeper/znode-paths.js';
import { digestAcls } from '../stores/zookeeper/digest-acls.js';
import { CliError, ExitCode, toCliError } from './cli-errors.js';
import { credential, duration } from './option-values.js';

/** The connection options every command takes, after parsing. */
export interface ConnectionOptions {
  readonly zk: string;
  readonly root: string;
  readonly auth?: string;
  /** Milliseconds: the longest wait to connect, and for each ZooKeeper call. */
  readonly timeout: number;
}

/** Adds `--zk`, `--root`, `--auth` and `--timeout` to `command`. */
export function addConnectionOptions(command: Command): Command {
  return command
    .addOption(new Option('--zk <connect>', 'ZooKeeper connect string host:port[,host:port...][/chroot]').env('FLOWGATE_ZK').argParser(connectString).makeOptionMandatory())
    .addOption(new Option('--root <path>', 'the znode under which flowgate keeps its data').default('/flowgate').argParser(rootPath))
    .addOption(new Option('--auth <user:password>', 'digest credential of the apps, for a protected root').env('FLOWGATE_AUTH').argParser(credential))
    .addOption(new Option('--timeout <duration>', 'longest wait to connect, and for each ZooKeeper call').default(5000, '5s').argParser(duration(100)));
}

function connectString(value: string): string {
  return validated(() => resolveZooKeeperStoreOptions({ connect: value }).connect);
}

function rootPath(value: string): string {
  return validated(() => resolveZooKeeperStoreOptions({ connect: '127.0.0.1:2181', root: value }).root);
}

function validated<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof FlowgateConfigError) throw new InvalidArgumentError(error.message.replace(/^.*?: invalid option \S+: /, ''));
    throw error;
  }
}

/** The nodes flowgate keeps directly under its root. */
const FLOWGATE_CHILDREN = new Set(['members', 'buckets', 'policies', 'queues', 'permits']);
/** A foreign root's children are named in the error only when it has at most this many (a listing of more could be too large). */
const LISTED_CHILDREN_MAX = 1000;

/**
 * One ZooKeeper session on a flowgate root, as a reader and administrator: it registers no member
 * and creates nothing but what a command asks for (with the `--auth` credential's ACL).
 */
export class ClusterConnection {
  /** Paths of the root's znodes. */
  readonly paths: ZnodePaths;
  /** ACLs for znodes the CLI creates: writable by the `--auth` credential only, readable by all (as the store does). */
  readonly acls: ACL[] | undefined;

  private constructor(
    readonly session: ZooKeeperSession,
    readonly options: ConnectionOptions,
  ) {
    this.paths = new ZnodePaths(options.root);
    this.acls = options.auth === undefined ? undefined : digestAcls(options.auth);
  }

  /** Connects; a {@link CliError} with exit code 3 when nobody answers within `options.timeout`. */
  static async open(options: ConnectionOptions): Promise<ClusterConnection> {
    // Each connection attempt gets sessionTimeout / servers (as ZooKeeper's Java client): within
    // --timeout, a server that accepts and then does not answer leaves time for another.
    const servers = options.zk.split(',').length;
    const sessionTimeoutMs = Math.max(1000, Math.min(6000, Math.floor((options.timeout * servers) / 2)));
    const session = new ZooKeeperSession({ connect: options.zk, sessionTimeoutMs, callTimeoutMs: options.timeout, digest: options.auth });
    session.start();
    try {
      await session.ready(options.timeout);
    } catch {
      void closeQuickly(session);
      throw new CliError(ExitCode.UNAVAILABLE, `cannot connect to ZooKeeper at ${options.zk} within ${options.timeout} ms: is it running, and is the connect string right?`);
    }
    return new ClusterConnection(session, options);
  }

  /** The published policies of this root. */
  policies(): PolicyRegistry {
    return new PolicyRegistry(this.session, this.options.root, this.acls);
  }

  /**
   * Throws a {@link CliError} with exit code 4 when the root does not exist, or holds other nodes
   * but none of flowgate's (`--root /kafka` by mistake). An empty root is flowgate's to use.
   */
  async requireRoot(): Promise<void> {
    const { root, zk } = this.options;
    const stat = await this.session.exists(root);
    if (stat === null) throw new CliError(ExitCode.NOT_FOUND, `no flowgate data under ${root} at ${zk} (is --root right?)`);
    if (stat.numChildren === 0) return;
    // Looked up by name, not listed: a root of another application can hold more children than one
    // reply carries.
    const found = await Promise.all([...FLOWGATE_CHILDREN].map((child) => this.session.exists(`${root === '/' ? '' : root}/${child}`)));
    if (found.some((child) => child !== null)) return;
    const children = stat.numChildren <= LISTED_CHILDREN_MAX ? await this.session.getChildren(root).catch(() => []) : [];
    const shown = children.length === 0 ? `${stat.numChildren} nodes` : children.slice(0, 5).join(', ') + (children.length > 5 ? ', ...' : '');
    throw new CliError(ExitCode.NOT_FOUND, `no flowgate data under ${root} at ${zk}: it holds ${shown}, none of flowgate's nodes (is --root right?)`);
  }

  /** Ends the session (waits at most half a second). */
  close(): Promise<void> {
    return closeQuickly(this.session);
  }
}

/**
 * Connects, checks that the root exists, runs `command`, and closes the session; any failure comes
 * out as a {@link CliError} with the exit code for it.
 */
export async function withCluster<T>(options: ConnectionOptions, command: (cluster: ClusterConnection) => Promise<T>): Promise<T> {
  const context = { connect: options.zk, root: options.root, withAuth: options.auth !== undefined };
  let cluster: ClusterConnection | undefined;
  try {
    cluster = await ClusterConnection.open(options);
    await cluster.requireRoot();
    return await command(cluster);
  } catch (error) {
    throw toCliError(error, context);
  } finally {
    await cluster?.close();
  }
}

function closeQuickly(session: ZooKeeperSession): Promise<void> {
  return Promise.race([session.close(), new Promise<void>((resolve) => setTimeout(resolve, 500).unref())]);
}

