// The options of ZooKeeperStore, their defaults, and their validation at construction time.

import { parseDuration, timerDuration, type Duration } from '../../duration.js';
import { FlowgateConfigError } from '../../errors.js';
import { rejectUnknownOptions } from '../../limiter-options.js';
import { validateRoot } from './znode-paths.js';

/** What a limiter does while ZooKeeper cannot be reached. */
export type UnavailablePolicy = 'local' | 'open' | 'closed';

/** Options of {@link ZooKeeperStore}. */
export interface ZooKeeperStoreOptions {
  /** ZooKeeper connection string, `host:port[,host:port...][/chroot]`. Required. */
  connect: string;
  /** The znode under which flowgate keeps everything. Default `'/flowgate'`. */
  root?: string;
  /** Requested session timeout (ZooKeeper clamps it to 2-20 × its tickTime). Default `'6s'`. */
  sessionTimeout?: Duration;
  /** Digest credential `'user:password'`: flowgate's znodes get an ACL that lets only its holders write. */
  auth?: string;
  /**
   * While ZooKeeper is unreachable: `'local'` (default) each process enforces rate / members (the
   * last known member count) by itself; `'open'` admits everything; `'closed'` rejects with 503.
   */
  onUnavailable?: UnavailablePolicy;
  /** How long a decision may wait for ZooKeeper before `onUnavailable` applies. Default `'1s'`. */
  unavailableAfter?: Duration;
  /** How much of its recent demand a process leases from the shared bucket at once. Default `'250ms'`. */
  leaseWindow?: Duration;
  /**
   * While the shared bucket is plentiful, a process leases up to this much of its recent demand
   * (the growth beyond `leaseWindow` never more than 1/(4 x members) of the bucket's tokens), so a
   * limit far above the load costs fewer ZooKeeper writes. At least `leaseWindow`. Default
   * `'500ms'` (or `leaseWindow`, if that is longer); `'2s'` cuts those writes by about 4x again.
   */
  maxLeaseWindow?: Duration;
  /** A bucket znode that has been full (idle) this long is deleted. Default `'30s'`. */
  cleanupAfter?: Duration;
  /**
   * Whether this process counts among the members that share the limits (each enforces rate /
   * members while ZooKeeper is unreachable; lease and permit shares are divided by the members).
   * Default `true`; `false` for a process that makes no rate-limit or concurrency decisions, such
   * as a queue worker (a `DistributedQueue` given `connect` opens its store so). It still has a
   * member node (named `q-<id>`), which `flowgate status` lists. A limiter or a concurrency limit
   * made on such a store throws FlowgateConfigError.
   */
  countAsMember?: boolean;
}

/** Options after validation, in milliseconds. */
export interface ResolvedZooKeeperStoreOptions {
  readonly connect: string;
  readonly root: string;
  readonly sessionTimeoutMs: number;
  readonly auth: string | undefined;
  readonly onUnavailable: UnavailablePolicy;
  readonly unavailableAfterMs: number;
  readonly leaseWindowMs: number;
  readonly maxLeaseWindowMs: number;
  readonly cleanupAfterMs: number;
  readonly countAsMember: boolean;
}

const KNOWN = ['connect', 'root', 'sessionTimeout', 'auth', 'onUnavailable', 'unavailableAfter', 'leaseWindow', 'maxLeaseWindow', 'cleanupAfter', 'clock', 'countAsMember'];
const CONNECT = /^[^,\s/]+:\d{1,5}(,[^,\s/]+:\d{1,5})*(\/[^\s]*)?$/;

/** Whether the chroot of a connection string, if any, is a path ZooKeeper accepts (no empty, `.` or `..` part, no trailing `/` but for `/` itself). */
function validChroot(connect: string): boolean {
  const slash = connect.indexOf('/');
  if (slash < 0) return true;
  const chroot = connect.slice(slash);
  return chroot === '/' || (!chroot.endsWith('/') && chroot.split('/').slice(1).every((part) => part !== '' && part !== '.' && part !== '..' && !/[\u0000-\u001f\u007f]/.test(part)));
}

/** The first `host:port` of a connection string whose port is not 1-65535, if any. */
function badPort(connect: string): string | undefined {
  const hosts = connect.replace(/\/.*$/, '').split(',');
  return hosts.find((hostPort) => {
    const port = Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
    return !(port >= 1 && port <= 65535);
  });
}

function countAsMember(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new FlowgateConfigError('countAsMember', value, 'must be true or false');
  return value;
}

/** Validates ZooKeeperStore options; throws {@link FlowgateConfigError} on the first bad one. */
export function resolveZooKeeperStoreOptions(options: ZooKeeperStoreOptions): ResolvedZooKeeperStoreOptions {
  if (options === null || typeof options !== 'object') {
    throw new FlowgateConfigError('options', options, "must be an object such as { connect: '127.0.0.1:2181' }");
  }
  rejectUnknownOptions(options, KNOWN);
  if (typeof options.connect !== 'string' || !CONNECT.test(options.connect) || !validChroot(options.connect)) {
    throw new FlowgateConfigError('connect', options.connect, "must be a ZooKeeper connection string such as '10.0.0.1:2181,10.0.0.2:2181[/chroot]'");
  }
  // A port past 65535 (or 0) throws from inside the client's socket, uncaught, once the store connects.
  const outOfRange = badPort(options.connect);
  if (outOfRange !== undefined) throw new FlowgateConfigError('connect', options.connect, `'${outOfRange}' needs a port from 1 to 65535`);
  const onUnavailable = options.onUnavailable ?? 'local';
  if (!['local', 'open', 'closed'].includes(onUnavailable)) {
    throw new FlowgateConfigError('onUnavailable', onUnavailable, "must be 'local', 'open' or 'closed'");
  }
  if (options.auth !== undefined && (typeof options.auth !== 'string' || !/^[^:]+:.+$/.test(options.auth))) {
    throw new FlowgateConfigError('auth', options.auth, "must be a digest credential 'user:password'");
  }
  // Each is armed as a timer (a call's deadline, the probe and sweep intervals, the cleanup delay): a
  // longer one than Node's longest fires after 1 ms, and the store would give up on every call, or
  // probe and sweep without pause.
  const positive = (name: keyof ZooKeeperStoreOptions, fallback: Duration, min: number): number => timerDuration(parseDuration(options[name] ?? fallback, name, { ms: min }), name, options[name]);
  const root = validateRoot(options.root ?? '/flowgate');
  const sessionTimeoutMs = positive('sessionTimeout', '6s', 1000);
  const unavailableAfterMs = positive('unavailableAfter', '1s', 50);
  const leaseWindowMs = positive('leaseWindow', '250ms', 10);
  const maxLeaseWindowMs = options.maxLeaseWindow === undefined ? Math.max(500, leaseWindowMs) : timerDuration(parseDuration(options.maxLeaseWindow, 'maxLeaseWindow'), 'maxLeaseWindow', options.maxLeaseWindow);
  if (maxLeaseWindowMs < leaseWindowMs) {
    throw new FlowgateConfigError('maxLeaseWindow', options.maxLeaseWindow, `must be at least leaseWindow (${leaseWindowMs} ms)`);
  }
  return {
    connect: options.connect,
    root,
    sessionTimeoutMs,
    auth: options.auth,
    onUnavailable,
    unavailableAfterMs,
    leaseWindowMs,
    maxLeaseWindowMs,
    cleanupAfterMs: positive('cleanupAfter', '30s', 0),
    countAsMember: countAsMember(options.countAsMember),
  };
}
