// Listens to one limiter's events: decisions into its tally, waits into the histogram, and the takes waiting now.

import type { LimiterEvents } from '../../src/limiter-events.js';
import type { Limiter } from '../../src/limiter.js';
import type { DecisionTally } from './decision-tally.js';

/** The `admit` payload, with the dry-run field read when the limiter sets it. */
type AdmitEvent = LimiterEvents['admit'] & { readonly wouldReject?: string };
/** The payload of the events that end a wait: `dequeue`, `timeout`, `abort`. */
type WaitEnd = LimiterEvents['dequeue'];

/** A histogram child: where one kind of wait is observed, in seconds. */
export interface WaitObserver {
  observe(seconds: number): void;
}

/** Where the waits of one limiter go, by how they ended. */
export interface WaitObservers {
  readonly served: WaitObserver;
  readonly timeout: WaitObserver;
  readonly aborted: WaitObserver;
}

/** A limiter that reports its queue itself (`Limiter.queueStats()`, where the core has it). */
interface QueueStatsReader {
  queueStats?(): { readonly waiting: number };
}

/**
 * The listeners on one limiter. The queue depth is the limiter's own `queueStats().waiting` when
 * it has that method; otherwise it is counted from `enqueue` (+1) and `dequeue`, `timeout`, `abort`
 * (-1), per key and never below 0 for a key (an `abort` of a take that left before it was placed in
 * line has no `enqueue`: it cannot drive the figure negative, and at worst lowers it by one until
 * that key's line drains), and a `'closed'` rejection (the limiter answered all its waiters) sets it to 0.
 */
export class LimiterObserver {
  /** Takes waiting, as the events tell: the fallback of {@link depth}. */
  private waiting = 0;
  /** The limiter's name when it was first watched: its `limiter` label. */
  readonly name: string;
  private readonly waitingByKey = new Map<string, number>();
  private readonly undo: Array<() => void> = [];

  /**
   * @param limiter - the limiter to watch
   * @param tally - where its decisions are counted (shared by the limiters of one name)
   * @param waits - where its waits are observed
   */
  constructor(
    readonly limiter: Limiter,
    tally: DecisionTally,
    waits: WaitObservers,
  ) {
    this.name = tally.limiter;
    this.listen('admit', (e: AdmitEvent) => {
      if (e.wouldReject === undefined) tally.admitted++;
      else tally.wouldReject(e.wouldReject);
    });
    this.listen('reject', (e) => {
      tally.reject(e.reason);
      if (e.reason === 'closed') this.drained();
    });
    // Listened to even without a queue: a live policy change may give the limiter one.
    this.listen('enqueue', (e) => {
      this.waitingByKey.set(e.key, (this.waitingByKey.get(e.key) ?? 0) + 1);
      this.waiting++;
    });
    this.listen('dequeue', (e) => this.left(e, waits.served));
    this.listen('timeout', (e) => this.left(e, waits.timeout));
    this.listen('abort', (e) => this.left(e, waits.aborted));
  }

  /** Takes of this limiter waiting in its queue now. */
  depth(): number {
    const limiter = this.limiter as Limiter & QueueStatsReader;
    return typeof limiter.queueStats === 'function' ? limiter.queueStats().waiting : this.waiting;
  }

  /** Removes every listener. */
  detach(): void {
    for (const off of this.undo.splice(0)) off();
    this.drained();
  }

  private listen<E extends keyof LimiterEvents>(event: E, listener: (payload: LimiterEvents[E]) => void): void {
    this.limiter.on(event, listener);
    this.undo.push(() => this.limiter.off(event, listener));
  }

  private left(e: WaitEnd, waits: WaitObserver): void {
    waits.observe(e.waitedMs / 1000);
    const count = this.waitingByKey.get(e.key);
    if (count === undefined) return;
    if (count <= 1) this.waitingByKey.delete(e.key);
    else this.waitingByKey.set(e.key, count - 1);
    this.waiting--;
  }

  private drained(): void {
    this.waitingByKey.clear();
    this.waiting = 0;
  }
}
