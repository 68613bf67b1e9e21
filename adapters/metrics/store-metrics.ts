// The ZooKeeper stores a FlowgateMetrics watches: degraded state from their events, the rest from stats() at scrape time.

import type { ZooKeeperStore, ZooKeeperStoreEvents, ZooKeeperStoreStats } from '../../src/stores/zookeeper/zookeeper-store.js';
import { CounterMirror } from './counter-mirror.js';
import type { MetricSet } from './metric-set.js';

/** The figures of `ZooKeeperStore.stats()`; the running totals by kind are read only when the store reports them. */
type StoreFigures = Omit<ZooKeeperStoreStats, 'operations' | 'errors' | 'tokensLeased' | 'fallbackDecisions'> & {
  /** ZooKeeper calls made, by operation. */
  readonly operations?: Readonly<Record<string, number>>;
  /** ZooKeeper calls failed, by kind. */
  readonly errors?: Readonly<Record<string, number>>;
  /** Tokens leased from the shared buckets, by limiter name. */
  readonly tokensLeased?: Readonly<Record<string, number>>;
  /** Takes answered by `onUnavailable`, by limiter name. */
  readonly fallbackDecisions?: Readonly<Record<string, number>>;
};

interface Watched {
  /** Unique to the store for the life of the metrics: its totals are mirrored under it. */
  readonly id: string;
  degraded: boolean;
  readonly stop: () => void;
}

/**
 * Watches stores for `flowgate_degraded`, `flowgate_cluster_members` and the ZooKeeper counters.
 * Several stores add up (their counters are summed; degraded is 1 when any is degraded; members is
 * the largest count seen). The counters mirror the stores' own running totals, so a store watched
 * late still reports everything it did since it was created.
 */
export class StoreMetrics {
  private readonly watched = new Map<ZooKeeperStore, Watched>();
  /** Ids survive an unwatch, so that watching a store again does not count its totals twice. */
  private readonly ids = new WeakMap<ZooKeeperStore, string>();
  private nextId = 1;
  private readonly writes: CounterMirror<string>;
  private readonly conflicts: CounterMirror<string>;
  private readonly operations: CounterMirror<'op'>;
  private readonly errors: CounterMirror<'type'>;
  private readonly tokensLeased: CounterMirror<'limiter'>;
  private readonly fallbackDecisions: CounterMirror<'limiter'>;

  /** @param metrics - the metric set the figures go to */
  constructor(private readonly metrics: MetricSet) {
    this.writes = new CounterMirror(metrics.bucketWrites);
    this.conflicts = new CounterMirror(metrics.bucketConflicts);
    this.operations = new CounterMirror(metrics.operations);
    this.errors = new CounterMirror(metrics.errors);
    this.tokensLeased = new CounterMirror(metrics.tokensLeased);
    this.fallbackDecisions = new CounterMirror(metrics.fallbackDecisions);
  }

  /** Whether `store` is watched. */
  has(store: object): store is ZooKeeperStore {
    return this.watched.has(store as ZooKeeperStore);
  }

  /** Starts watching `store`; a store already watched is left as it is. */
  add(store: ZooKeeperStore): void {
    if (this.watched.has(store)) return;
    let id = this.ids.get(store);
    if (id === undefined) {
      id = `s${this.nextId++}`;
      this.ids.set(store, id);
    }
    const onDegraded = (_: ZooKeeperStoreEvents['degraded']): void => void (entry.degraded = true);
    const onRecovered = (_: ZooKeeperStoreEvents['recovered']): void => void (entry.degraded = false);
    const entry: Watched = {
      id,
      // A store observed while already degraded says so in its stats.
      degraded: store.stats().degraded === true,
      stop: () => {
        store.off('degraded', onDegraded);
        store.off('recovered', onRecovered);
      },
    };
    store.on('degraded', onDegraded);
    store.on('recovered', onRecovered);
    this.watched.set(store, entry);
  }

  /** Stops watching `store` (nothing when it is not watched). */
  remove(store: ZooKeeperStore): void {
    this.watched.get(store)?.stop();
    this.watched.delete(store);
  }

  /** Stops watching every store. */
  removeAll(): void {
    for (const store of [...this.watched.keys()]) this.remove(store);
  }

  /** Reads every watched store's figures into the metrics (before each scrape). */
  collect(): void {
    let degraded = 0;
    let members = 0;
    for (const [store, { id, degraded: down }] of this.watched) {
      const figures = store.stats() as StoreFigures;
      this.writes.sync(id, undefined, figures.writes);
      this.conflicts.sync(id, undefined, figures.conflicts);
      for (const [op, total] of Object.entries(figures.operations ?? {})) this.operations.sync(`${id}\u0000${op}`, { op }, total);
      for (const [type, total] of Object.entries(figures.errors ?? {})) this.errors.sync(`${id}\u0000${type}`, { type }, total);
      for (const [limiter, total] of Object.entries(figures.tokensLeased ?? {})) this.tokensLeased.sync(`${id}\u0000${limiter}`, { limiter }, total);
      for (const [limiter, total] of Object.entries(figures.fallbackDecisions ?? {})) this.fallbackDecisions.sync(`${id}\u0000${limiter}`, { limiter }, total);
      // A closed store (replaced, or the app shutting down) is neither degraded nor a member count.
      if (figures.closed === true) continue;
      if (down) degraded = 1;
      members = Math.max(members, figures.members);
    }
    this.metrics.degraded.set(degraded);
    this.metrics.members.set(members);
  }
}
