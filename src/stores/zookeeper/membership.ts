// Registers this process as an ephemeral member node and keeps count of the live members.

import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { ACL } from 'node-zookeeper-client';
import { ServerClock, statTime } from './server-clock.js';
import { ZkCode, ZooKeeperSession, zkCode } from './zookeeper-session.js';

const EPHEMERAL = 1;
/** After a failed re-read of the member list (its watch fired), read again this much later (ms). */
const REWATCH_RETRY_MS = 250;
/** The id prefix of a member that does not count among those sharing the limits (see ZooKeeperStoreOptions.countAsMember). */
export const UNCOUNTED_PREFIX = 'q-';

/**
 * This process's member node (`<root>/members/<id>`, ephemeral: it vanishes with the session) and
 * the count of members, kept current by a children watch. The registration also writes once, to
 * learn ZooKeeper's clock.
 */
export class Membership {
  /** This process's member id (`q-<uuid>` when it does not count among the members sharing the limits). */
  readonly id: string;
  private memberCount = 1;
  private live: readonly string[] = [];
  private first = true;
  private closed = false;
  /** Counts the member-list reads: only the latest read's watch re-reads, and only its answer counts. */
  private reads = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly session: ZooKeeperSession,
    private readonly parent: string,
    private readonly clock: ServerClock,
    private readonly acls: ACL[] | undefined,
    private readonly onCount: (count: number) => void,
    counted = true,
  ) {
    this.id = `${counted ? '' : UNCOUNTED_PREFIX}${randomUUID()}`;
  }

  /** Live members that share the limits (at least 1): those whose id is not `q-<uuid>`. */
  get count(): number {
    return this.memberCount;
  }

  /** Ids of the live member nodes as last seen (this one included once registered), sorted. */
  get liveIds(): readonly string[] {
    return this.live;
  }

  /** Whether this process is the first of the sorted member list: the one that runs cluster chores. */
  get isFirst(): boolean {
    return this.first;
  }

  /** What the member node says besides host, pid and since (see {@link publish}). */
  private details: Record<string, unknown> = {};
  private readonly since = new Date().toISOString();

  /**
   * Rewrites the member node with `details` (state, limiters' queues, ...) beside host, pid and
   * since: what `flowgate status` shows of this process. Kept for the next registration too.
   */
  async publish(details: Record<string, unknown>): Promise<void> {
    this.details = details;
    await this.session.setData(`${this.parent}/${this.id}`, this.data(), -1);
  }

  private data(): Buffer {
    return Buffer.from(JSON.stringify({ host: hostname(), pid: process.pid, since: this.since, ...this.details, at: new Date().toISOString() }));
  }

  /** Creates the member node (again, after a new session) and starts watching the member list. */
  async register(): Promise<void> {
    const path = `${this.parent}/${this.id}`;
    const data = this.data();
    await this.session.mkdirp(this.parent, this.acls);
    try {
      await this.session.create(path, data, EPHEMERAL, this.acls);
    } catch (error) {
      if (zkCode(error) !== ZkCode.NODE_EXISTS) throw error;
    }
    const stat = await this.session.setData(path, data, -1);
    this.clock.observe(statTime(stat.mtime));
    await this.watch();
  }

  /** Stops reacting to member changes. */
  close(): void {
    this.closed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
  }

  /** Reads the member list with a watch; when the watch fires, reads again (see {@link rewatch}). */
  private async watch(): Promise<void> {
    if (this.closed) return;
    const read = ++this.reads;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    const children = await this.session.getChildren(this.parent, () => {
      if (read === this.reads) this.rewatch();
    });
    if (read !== this.reads) return;
    this.live = [...children].sort();
    this.first = children.length === 0 || this.live[0] === this.id;
    const count = Math.max(1, children.filter((child) => !child.startsWith(UNCOUNTED_PREFIX)).length);
    if (count !== this.memberCount) {
      this.memberCount = count;
      this.onCount(count);
    }
  }

  /** Reads the member list again, and keeps trying while the read fails (a failover): no change goes unseen for the session. */
  private rewatch(): void {
    this.watch().catch(() => {
      if (this.closed) return;
      this.retry = setTimeout(() => this.rewatch(), REWATCH_RETRY_MS);
      this.retry.unref();
    });
  }
}
