// A DistributedQueue's shared view of its item list: one snapshot in turn order, one children watch, and the callers waiting for a change.

import { sortByTurn } from './queue-item-names.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/**
 * A snapshot of the item list is listed again, after the list changed, once it is this old: each
 * instance lists at most ~20 times a second however fast items come and go (a listing of a long
 * queue is the costliest call there is), and an item that goes ahead by priority waits at most this
 * much longer to be seen.
 */
export const RELIST_MS = 50;

/**
 * The item names last listed, in turn order, shared by every dequeue and consumer of one queue
 * instance: claims take names off the front of {@link ItemListing.candidates}' array. Listed again
 * when used up, when asked, or when the list changed (the watch fired) and the snapshot is
 * {@link RELIST_MS} old. One children watch serves every caller waiting for a change.
 */
export class ItemListing {
  private snapshot: string[] = [];
  private listedAt = -Infinity;
  private changedSinceListing = true;
  /** Whether the one children watch is set. */
  private watching = false;
  /** Callers waiting for the item list to change. */
  private readonly changeWaiters = new Set<() => void>();

  /**
   * @param session - the queue's ZooKeeper session
   * @param path - the parent znode of the items
   * @param isClosed - whether the queue is closed (no new watch is set then)
   * @param onListed - called with each listing that becomes the snapshot through {@link candidates}
   */
  constructor(
    private readonly session: ZooKeeperSession,
    private readonly path: string,
    private readonly isClosed: () => boolean,
    private readonly onListed: (names: readonly string[]) => void,
  ) {}

  /**
   * Names to claim from: the shared snapshot, listed again when `force`, when used up, or when the
   * list changed and the snapshot is RELIST_MS old. `fresh` tells whether it was just listed.
   */
  async candidates(force = false): Promise<{ names: string[]; fresh: boolean }> {
    const changed = this.changedSinceListing && performance.now() - this.listedAt >= RELIST_MS;
    if (!force && !changed && this.snapshot.length > 0) return { names: this.snapshot, fresh: false };
    this.snapshot = await this.list();
    this.onListed(this.snapshot);
    return { names: this.snapshot, fresh: true };
  }

  /** The names the snapshot still holds, in turn order. */
  get names(): readonly string[] {
    return this.snapshot;
  }

  /** How many names the snapshot still holds. */
  get left(): number {
    return this.snapshot.length;
  }

  /** Drops the snapshot (after an error): the next {@link candidates} lists again. */
  discard(): void {
    this.snapshot = [];
  }

  /** Makes the next {@link candidates} list again once the snapshot is used up, however recent it is. */
  expire(): void {
    this.changedSinceListing = true;
    this.listedAt = -Infinity;
  }

  /** A new session has none of the old one's watches: the list may have changed unseen. */
  sessionRenewed(): void {
    this.watching = false;
    this.changedSinceListing = true;
  }

  /** Waits until the item list changes, `ms` pass, or `signal` aborts (at once if it has); `expose` gets a function that ends the wait early. */
  async changeOrTimeout(ms: number, signal?: AbortSignal, expose?: (resolve: () => void) => void): Promise<void> {
    if (signal?.aborted) return;
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.changeWaiters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal?.addEventListener('abort', finish, { once: true });
      expose?.(finish);
      this.changeWaiters.add(finish);
      this.watch();
    });
  }

  /** The item names in turn order; the listing also sets the children watch when it is not set. */
  private async list(): Promise<string[]> {
    // Cleared before the call: a change during the listing counts as a change after it.
    this.changedSinceListing = false;
    this.listedAt = performance.now();
    if (this.watching || this.isClosed()) return sortByTurn(await this.session.getChildren(this.path));
    this.watching = true;
    try {
      return sortByTurn(await this.session.getChildren(this.path, this.onChanged));
    } catch (error) {
      this.watching = false;
      this.changedSinceListing = true;
      throw error;
    }
  }

  /** The children watch fired: the list changed; wake whoever waits for a change. */
  private readonly onChanged = (): void => {
    this.watching = false;
    this.changedSinceListing = true;
    for (const wake of [...this.changeWaiters]) wake();
  };

  /** Keeps one children watch on the item list for all waiters (no watcher pile-up). */
  private watch(): void {
    if (this.watching || this.isClosed()) return;
    // The listing that sets the watch is kept as the snapshot: the next claim uses it.
    this.list().then(
      (names) => (this.snapshot = names),
      () => undefined,
    );
  }
}
