// The concurrency limits a FlowgateMetrics watches: acquires by result and reason, and permits held now.

import type { ConcurrencyEvents, ConcurrencyLimiter } from '../../src/concurrency/concurrency-limiter.js';
import { CounterMirror } from './counter-mirror.js';
import { DecisionTally, syncTally } from './decision-tally.js';
import type { MetricSet } from './metric-set.js';

/**
 * Watches concurrency limits and keeps their figures for `flowgate_concurrency_decisions_total`
 * and `flowgate_concurrency_in_flight`. Limits that share a name share their series.
 */
export class ConcurrencyMetrics {
  /** Each watched limit: how to stop watching it, and the permits it gave while watched that are still held. */
  private readonly watched = new Map<ConcurrencyLimiter, { detach: () => void; held: number }>();
  /** Acquires by limit name, in the same plain-number tallies as the rate limiters' decisions. */
  private readonly tallies = new Map<string, DecisionTally>();
  private readonly decisions: CounterMirror<'limiter' | 'result' | 'reason'>;

  /** @param metrics - the metric set the figures go to */
  constructor(private readonly metrics: MetricSet) {
    this.decisions = new CounterMirror(metrics.permits);
  }

  /** Starts watching `limiter`; one already watched is left as it is. */
  add(limiter: ConcurrencyLimiter): void {
    if (this.watched.has(limiter)) return;
    const name = limiter.name;
    let tally = this.tallies.get(name);
    if (tally === undefined) {
      tally = new DecisionTally(name);
      this.tallies.set(name, tally);
    }
    const counts = tally;
    const since = performance.now();
    const entry = { detach: () => undefined, held: 0 };
    const acquire = (e: ConcurrencyEvents['acquire']): void => {
      // A dry-run admission over the limit holds no permit: counted apart, not in flight.
      if (e.wouldReject !== undefined) return counts.wouldReject(e.wouldReject);
      counts.admitted++;
      entry.held++;
    };
    const reject = (e: ConcurrencyEvents['reject']): void => counts.reject(e.reason);
    // A permit acquired before the watch began was never counted: its release takes nothing off.
    const release = (e: ConcurrencyEvents['release']): void => {
      if (e.acquiredAt >= since) entry.held = Math.max(0, entry.held - 1);
    };
    limiter.on('acquire', acquire);
    limiter.on('reject', reject);
    limiter.on('release', release);
    entry.detach = () => {
      limiter.off('acquire', acquire);
      limiter.off('reject', reject);
      limiter.off('release', release);
    };
    this.watched.set(limiter, entry);
  }

  /** Stops watching `limiter` (nothing when it is not watched): its permits no longer count in flight. */
  remove(limiter: ConcurrencyLimiter): void {
    this.watched.get(limiter)?.detach();
    this.watched.delete(limiter);
  }

  /** Stops watching every limit. */
  removeAll(): void {
    for (const limiter of [...this.watched.keys()]) this.remove(limiter);
  }

  /** Brings both metrics up to the tallies (before each scrape). */
  collect(): void {
    for (const tally of this.tallies.values()) syncTally(this.decisions, tally, 'acquired');
    const held = new Map<string, number>();
    for (const name of this.tallies.keys()) held.set(name, 0);
    for (const [limiter, entry] of this.watched) held.set(limiter.name, (held.get(limiter.name) ?? 0) + entry.held);
    for (const [limiter, count] of held) this.metrics.permitsInFlight.set({ limiter }, count);
  }
}
