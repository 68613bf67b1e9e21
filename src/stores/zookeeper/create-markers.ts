// Ephemeral markers written in the same multi as a DistributedQueue item: after a lost reply, the marker tells for certain whether the item was created.

import type { ACL } from 'node-zookeeper-client';
import type { TransactionOp, ZooKeeperSession } from './zookeeper-session.js';

const EPHEMERAL = 1;
/** Markers of earlier creates removed by one later create's multi, at most. */
const CARRIED_PER_CREATE = 32;
/** A marker left after the last create of a burst is removed this long after it. */
const FLUSH_AFTER_MS = 1_000;

/** The markers one create's multi removes, to be handed back to {@link CreateMarkers.settled}. */
export interface CarriedMarkers {
  readonly paths: readonly string[];
  readonly session: number;
}

/**
 * Makes a protected create certain. An item's create and an ephemeral marker named after its
 * UUID go in one multi, so after a lost reply the marker's existence says whether the item was
 * created, even when a consumer has taken and removed the item meanwhile (a listing of the items
 * cannot tell that case from "never created"). A marker is useless once its create's reply came:
 * it is removed by a later create's multi (no extra write while items keep coming), or by one
 * multi of removes after a quiet second, or with the session.
 */
export class CreateMarkers {
  /** Markers whose create's reply came, in the session they were made in: to remove. */
  private done: string[] = [];
  private doneSession = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: ZooKeeperSession,
    private readonly parent: string,
    private readonly acls: ACL[] | undefined,
  ) {}

  /** The marker of the create whose protected prefix carries `uuid`. */
  pathOf(uuid: string): string {
    return `${this.parent}/${uuid}`;
  }

  /** The ops a create's multi adds after its item's create: make `marker`, remove some done ones. */
  opsFor(marker: string): { ops: TransactionOp[]; carried: CarriedMarkers } {
    const session = this.session.sessionNumber;
    if (this.doneSession !== session) this.done = [];
    const paths = this.done.splice(0, CARRIED_PER_CREATE);
    const ops: TransactionOp[] = [{ op: 'create', path: marker, data: Buffer.alloc(0), mode: EPHEMERAL, acls: this.acls }, ...paths.map((path) => ({ op: 'remove' as const, path, version: -1 }))];
    return { ops, carried: { paths, session } };
  }

  /**
   * The multi ran (its reply came, or its marker was found): the markers it carried are gone, and
   * `marker` is done with.
   */
  settled(carried: CarriedMarkers, marker: string): void {
    if (carried.session !== this.session.sessionNumber) return;
    if (this.doneSession !== carried.session) {
      this.done = [];
      this.doneSession = carried.session;
    }
    this.done.push(marker);
    this.scheduleFlush();
  }

  /** The multi did not run: the markers it carried are still there, to be removed later. */
  notRun(carried: CarriedMarkers): void {
    if (carried.paths.length === 0 || carried.session !== this.session.sessionNumber || this.doneSession !== carried.session) return;
    this.done.unshift(...carried.paths);
    this.scheduleFlush();
  }

  /** Markers waiting to be removed (for tests). */
  get pending(): number {
    return this.doneSession === this.session.sessionNumber ? this.done.length : 0;
  }

  /** Removes every done marker now, in one multi per {@link CARRIED_PER_CREATE}·4. Errors are dropped: the session removes them at the latest. */
  async flush(): Promise<void> {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const session = this.session.sessionNumber;
    if (this.doneSession !== session) this.done = [];
    while (this.done.length > 0) {
      const paths = this.done.splice(0, CARRIED_PER_CREATE * 4);
      try {
        await this.session.transaction(paths.map((path) => ({ op: 'remove' as const, path, version: -1 })));
      } catch {
        // Gone already, or ZooKeeper unreachable: an ephemeral marker goes with its session anyway.
        return;
      }
    }
  }

  /** Stops the quiet-time flush. */
  stop(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
    this.flushTimer.unref();
  }
}
