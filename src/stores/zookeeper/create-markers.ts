// Ephemeral markers written in the same multi as a DistributedQueue item: after a lost reply, the marker tells for certain whether the item was created.

import type { ACL } from 'node-zookeeper-client';
import { failedOpIndex, isUnavailable, type TransactionOp, type ZooKeeperSession } from './zookeeper-session.js';

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
 * multi of removes after a quiet second (again a second later while ZooKeeper is unreachable),
 * or with the session.
 */
export class CreateMarkers {
  /** Markers whose create's reply came, in the session they were made in: to remove (a set: never twice). */
  private done = new Set<string>();
  private doneSession = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private stopped = false;

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
    const session = this.current();
    const paths = this.takeDone(CARRIED_PER_CREATE);
    const ops: TransactionOp[] = [{ op: 'create', path: marker, data: Buffer.alloc(0), mode: EPHEMERAL, acls: this.acls }, ...paths.map((path) => ({ op: 'remove' as const, path, version: -1 }))];
    return { ops, carried: { paths, session } };
  }

  /**
   * The multi ran (its reply came, or its marker was found): the markers it carried are gone, and
   * `marker` is done with.
   */
  settled(carried: CarriedMarkers, marker: string): void {
    if (carried.session !== this.current()) return;
    this.done.add(marker);
    this.scheduleFlush();
  }

  /**
   * The multi did not run (ZooKeeper rolls a failed multi back): the markers it carried are still
   * there, to be removed later, except `gone`, the one whose remove failed.
   */
  notRun(carried: CarriedMarkers, gone?: string): void {
    if (carried.session !== this.current()) return;
    for (const path of carried.paths) if (path !== gone) this.done.add(path);
    if (this.done.size > 0) this.scheduleFlush();
  }

  /**
   * Removes every done marker now. A marker found gone is dropped and the rest removed; when
   * ZooKeeper cannot be reached, they wait for the next flush (a second later, unless stopped).
   */
  async flush(): Promise<void> {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const session = this.current();
    for (let attempt = 0; this.done.size > 0 && attempt < 100; attempt++) {
      const paths = this.takeDone(CARRIED_PER_CREATE * 4);
      try {
        await this.session.transaction(paths.map((path) => ({ op: 'remove' as const, path, version: -1 })));
      } catch (error) {
        if (session !== this.session.sessionNumber) return;
        const index = isUnavailable(error) ? undefined : failedOpIndex(error);
        for (const [i, path] of paths.entries()) if (i !== index) this.done.add(path);
        if (index === undefined) {
          // Unreachable (or an answer that names no path): try again later; the session removes them at the latest.
          if (!this.stopped) this.scheduleFlush();
          return;
        }
      }
    }
  }

  /** Stops the quiet-time flush (a queue being closed). */
  stop(): void {
    this.stopped = true;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** The session now; the done markers of an earlier one went with it. */
  private current(): number {
    const session = this.session.sessionNumber;
    if (this.doneSession !== session) {
      this.done.clear();
      this.doneSession = session;
    }
    return session;
  }

  private takeDone(count: number): string[] {
    const paths: string[] = [];
    for (const path of this.done) {
      if (paths.length === count) break;
      paths.push(path);
    }
    for (const path of paths) this.done.delete(path);
    return paths;
  }

  private scheduleFlush(): void {
    if (this.stopped) return;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
    this.flushTimer.unref();
  }
}
