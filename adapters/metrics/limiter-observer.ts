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

/**
 * The listeners on one limiter: decisions into its tally, waits into the histogram. The queue depth
 * is read from the limiter itself (`queueStats().waiting`) at scrape time.
 */
export class LimiterObserver {
  /** The limiter's name when it was first watched: its `limiter` label. */
  readonly name: string;
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
    this.listen('reject', (e) => tally.reject(e.reason));
    // Listened to even without a queue: a live policy change may give the limiter one.
    this.listen('dequeue', (e) => this.left(e, waits.served));
    this.listen('timeout', (e) => this.left(e, waits.timeout));
    this.listen('abort', (e) => this.left(e, waits.aborted));
  }

  /** Takes of this limiter waiting in its queue now. */
  depth(): number {
    return this.limiter.queueStats().waiting;
  }

  /** Removes every listener. */
  detach(): void {
    for (const off of this.undo.splice(0)) off();
  }

  private listen<E extends keyof LimiterEvents>(event: E, listener: (payload: LimiterEvents[E]) => void): void {
    this.limiter.on(event, listener);
    this.undo.push(() => this.limiter.off(event, listener));
  }

  private left(e: WaitEnd, waits: WaitObserver): void {
    waits.observe(e.waitedMs / 1000);
  }
}
