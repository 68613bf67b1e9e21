// The limiters a FlowgateMetrics watches, and how their figures reach the decision counter and the queue gauge.

import type { Limiter } from '../../src/limiter.js';
import { CounterMirror } from './counter-mirror.js';
import { DecisionTally, syncTally } from './decision-tally.js';
import { LimiterObserver } from './limiter-observer.js';
import type { MetricSet } from './metric-set.js';

/**
 * Watches limiters and keeps their figures for `flowgate_decisions_total`,
 * `flowgate_queue_depth` and `flowgate_queue_wait_seconds`. Limiters that share a name share
 * their series (the `limiter` label is the name, never a key, so the label set stays bounded);
 * the series of a limiter that is no longer watched stay, with the counts it had.
 */
export class LimiterMetrics {
  private readonly observers = new Map<Limiter, LimiterObserver>();
  private readonly tallies = new Map<string, DecisionTally>();
  /** Names of the limiters that have had a queue: the only ones with a queue depth series. */
  private readonly queueNames = new Set<string>();
  private readonly decisions: CounterMirror<'limiter' | 'result' | 'reason'>;

  /** @param metrics - the metric set the figures go to */
  constructor(private readonly metrics: MetricSet) {
    this.decisions = new CounterMirror(metrics.decisions);
  }

  /** Starts watching `limiter`; a limiter already watched is left as it is. */
  add(limiter: Limiter): void {
    if (this.observers.has(limiter)) return;
    const name = limiter.name;
    let tally = this.tallies.get(name);
    if (tally === undefined) {
      tally = new DecisionTally(name);
      this.tallies.set(name, tally);
    }
    const wait = this.metrics.queueWait;
    const waits = {
      served: wait.labels({ limiter: name, result: 'served' }),
      timeout: wait.labels({ limiter: name, result: 'timeout' }),
      aborted: wait.labels({ limiter: name, result: 'aborted' }),
    };
    this.observers.set(limiter, new LimiterObserver(limiter, tally, waits));
  }

  /** Stops watching `limiter` (nothing when it is not watched). */
  remove(limiter: Limiter): void {
    this.observers.get(limiter)?.detach();
    this.observers.delete(limiter);
  }

  /** Stops watching every limiter. */
  removeAll(): void {
    for (const limiter of [...this.observers.keys()]) this.remove(limiter);
  }

  /** Brings `flowgate_decisions_total` up to the tallies (before each scrape). */
  collectDecisions(): void {
    for (const tally of this.tallies.values()) syncTally(this.decisions, tally, 'admitted');
  }

  /** Sets `flowgate_queue_depth` of every limiter name with a queue (before each scrape). */
  collectQueueDepth(): void {
    const depth = new Map<string, number>();
    for (const observer of this.observers.values()) if (observer.limiter.queueing) this.queueNames.add(observer.name);
    for (const name of this.queueNames) depth.set(name, 0);
    for (const observer of this.observers.values()) {
      if (this.queueNames.has(observer.name)) depth.set(observer.name, (depth.get(observer.name) ?? 0) + observer.depth());
    }
    for (const [limiter, waiting] of depth) this.metrics.queueDepth.set({ limiter }, waiting);
  }
}
