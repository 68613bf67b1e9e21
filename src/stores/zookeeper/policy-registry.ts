// Published limiter policies in ZooKeeper (`<root>/policies/<limiter>`): read, write with a version check, watch.

import { hostname } from 'node:os';
import type { ACL } from 'node-zookeeper-client';
import { FlowgateConfigError } from '../../errors.js';
import { applyPolicyUpdate, type PolicyUpdate, type PublishedPolicy, type QueueBounds, type VersionedPolicy } from '../../policy-update.js';
import { ZkCode, zkCode, type ZooKeeperSession } from './zookeeper-session.js';
import { nodeName } from './znode-paths.js';

const PERSISTENT = 0;

/** The JSON kept in a policy node. `name` is the limiter's name in clear (the node name is its hash). */
interface PolicyData {
  readonly v: 1;
  readonly name: string;
  readonly rate: number;
  readonly intervalMs: number;
  readonly burst: number;
  readonly queue?: { readonly maxSize: number; readonly maxWaitMs: number } | false;
  /** When and by whom it was last written (host:pid), for `flowgate policy get`. */
  readonly updatedAt: string;
  readonly by: string;
}

/** A published policy as read back, with the limiter name and who wrote it. */
export interface PolicyRecord extends VersionedPolicy {
  readonly name: string;
  readonly updatedAt: string;
  readonly by: string;
}

/** The longest queue wait a policy may hold (ms): what Node's timers take, as `applyPolicyUpdate` checks. */
const MAX_WAIT_MS = 2_147_483_647;

/**
 * The `queue` of a policy node's data: `false`, bounds, `undefined` when absent, or `null` when it
 * is neither (a hand-edited node: bounds that are not whole sizes >= 0 and waits within 0..24.8 days).
 */
function decodeQueue(raw: unknown): QueueBounds | false | undefined | null {
  if (raw === undefined || raw === false) return raw;
  if (raw === null || typeof raw !== 'object') return null;
  const { maxSize, maxWaitMs } = raw as Record<string, unknown>;
  if (typeof maxSize !== 'number' || !Number.isInteger(maxSize) || maxSize < 0) return null;
  if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0 || maxWaitMs > MAX_WAIT_MS) return null;
  return { maxSize, maxWaitMs };
}

/**
 * Decodes a policy node's data; `undefined` for data that is not a flowgate policy, including one
 * whose figures no `setPolicy` could have written (a node edited by hand: a rate or interval that is
 * not a finite number > 0, a burst that is not a whole number >= 1, bad queue bounds). Limiters then
 * keep their own options, as with no policy at all.
 */
export function decodePolicy(data: Buffer | undefined, version: number): PolicyRecord | undefined {
  try {
    const parsed = JSON.parse((data ?? Buffer.alloc(0)).toString('utf8')) as Partial<PolicyData>;
    const rate = Number(parsed.rate);
    const intervalMs = Number(parsed.intervalMs);
    const burst = Number(parsed.burst);
    if (parsed.v !== 1 || typeof parsed.name !== 'string' || !(rate > 0 && Number.isFinite(rate)) || !(intervalMs > 0 && Number.isFinite(intervalMs)) || !(burst >= 1 && Number.isSafeInteger(burst))) return undefined;
    const queue = decodeQueue(parsed.queue);
    if (queue === null) return undefined;
    const base = { name: parsed.name, rate, intervalMs, burst, version, updatedAt: String(parsed.updatedAt ?? ''), by: String(parsed.by ?? '') };
    return queue === undefined ? base : { ...base, queue };
  } catch {
    return undefined;
  }
}

function encodePolicy(name: string, policy: PublishedPolicy): Buffer {
  const data: PolicyData = { v: 1, name, rate: policy.rate, intervalMs: policy.intervalMs, burst: policy.burst, ...(policy.queue !== undefined && { queue: policy.queue }), updatedAt: new Date().toISOString(), by: `${hostname()}:${process.pid}` };
  return Buffer.from(JSON.stringify(data));
}

/** Version-checked writes of one policy that may lose a race to other writers before `set` gives up. */
const MAX_SET_ATTEMPTS = 20;

/**
 * Reads, writes and watches the published policies under `<root>/policies`. Used by
 * `ZooKeeperStore` (limiters pick changes up through a watch) and by the `flowgate` CLI.
 */
export class PolicyRegistry {
  private readonly parent: string;

  constructor(
    private readonly session: ZooKeeperSession,
    root: string,
    private readonly acls: ACL[] | undefined,
  ) {
    this.parent = `${root}/policies`;
  }

  /** The policy node of limiter `name`. */
  pathOf(name: string): string {
    return `${this.parent}/${nodeName(name)}`;
  }

  /** The published policy of `name`, or `undefined` when none was published. */
  async get(name: string, watcher?: (event: unknown) => void): Promise<PolicyRecord | undefined> {
    return (await this.read(name, watcher))?.record;
  }

  /**
   * The policy node of `name`: `undefined` when there is none; else its record, `undefined` when
   * the node holds something this flowgate cannot read. With `watcher`, a missing node is watched
   * for its creation.
   */
  private async read(name: string, watcher?: (event: unknown) => void): Promise<{ record: PolicyRecord | undefined } | undefined> {
    try {
      const { data, stat } = await this.session.getData(this.pathOf(name), watcher);
      return { record: decodePolicy(data, stat.version) };
    } catch (error) {
      if (zkCode(error) !== ZkCode.NO_NODE) throw error;
      // Watch for its creation instead.
      if (watcher !== undefined && (await this.session.exists(this.pathOf(name), watcher)) !== null) return this.read(name, watcher);
      return undefined;
    }
  }

  /** Every published policy (one listing, one read each). */
  async list(): Promise<PolicyRecord[]> {
    let names: string[];
    try {
      names = await this.session.getChildren(this.parent);
    } catch (error) {
      if (zkCode(error) === ZkCode.NO_NODE) return [];
      throw error;
    }
    const records: PolicyRecord[] = [];
    for (const child of names) {
      try {
        const { data, stat } = await this.session.getData(`${this.parent}/${child}`);
        const record = decodePolicy(data, stat.version);
        if (record !== undefined) records.push(record);
      } catch (error) {
        if (zkCode(error) !== ZkCode.NO_NODE) throw error;
      }
    }
    return records.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Applies `update` over the published policy of `name` (or over `base` when none is published
   * yet) with a version-checked write, retrying lost races; resolves with what is now published.
   * Queue bounds the update leaves out, over a policy without them, come from `queueDefaults`
   * (the publishing limiter's own queue), else 100 and 10 s.
   * Throws {@link FlowgateConfigError} for a bad update, or when nothing is published and no
   * `base` is given and the update does not say `rate`.
   */
  async set(name: string, update: PolicyUpdate, base?: PublishedPolicy, queueDefaults?: QueueBounds): Promise<PolicyRecord> {
    const path = this.pathOf(name);
    for (let attempt = 1; ; attempt++) {
      const current = await this.readable(name);
      let start: PublishedPolicy | undefined = current ?? base;
      if (start === undefined) {
        if (update?.rate === undefined) throw new FlowgateConfigError('rate', undefined, `is needed: limiter '${name}' has no published policy yet to change`);
        start = { rate: update.rate, intervalMs: 1000, burst: Math.max(1, Math.ceil(update.rate)) };
      }
      const next = applyPolicyUpdate(start, update, queueDefaults);
      const data = encodePolicy(name, next);
      try {
        let version = 0;
        if (current === undefined) {
          await this.session.mkdirp(this.parent, this.acls);
          await this.session.create(path, data, PERSISTENT, this.acls);
        } else {
          version = (await this.session.setData(path, data, current.version)).version;
        }
        // What this write published, with its own version (a read back could see a later writer's).
        return decodePolicy(data, version) as PolicyRecord;
      } catch (error) {
        const code = zkCode(error);
        if (code !== ZkCode.BAD_VERSION && code !== ZkCode.NODE_EXISTS && code !== ZkCode.NO_NODE) throw error;
        if (attempt >= MAX_SET_ATTEMPTS) throw new Error(`flowgate: could not publish the policy of '${name}': ${MAX_SET_ATTEMPTS} writes in a row lost a race with other writers`);
      }
    }
  }

  /**
   * The published policy of `name` (`undefined` when there is none); throws when its node holds
   * something this flowgate cannot read (a newer format, or a hand edit), rather than writing over it.
   */
  private async readable(name: string): Promise<PolicyRecord | undefined> {
    const found = await this.read(name);
    if (found === undefined) return undefined;
    const { record } = found;
    if (record === undefined) {
      throw new Error(`flowgate: the policy node ${this.pathOf(name)} holds data this flowgate cannot read (a newer format, or a hand edit); remove it with 'flowgate policy rm ${name}' to publish again`);
    }
    return record;
  }

  /** Removes the published policy of `name`: limiters go back to their own options. Resolves false when there was none. */
  async remove(name: string): Promise<boolean> {
    try {
      await this.session.remove(this.pathOf(name), -1);
      return true;
    } catch (error) {
      if (zkCode(error) === ZkCode.NO_NODE) return false;
      throw error;
    }
  }
}
