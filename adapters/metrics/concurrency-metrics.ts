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
  private readonly detachers = new Map<ConcurrencyLimiter, () => void>();
  /** Acquires by limit name, in the same plain-number tallies as the rate limiters' decisions. */
  private readonly tallies = new Map<string, DecisionTally>();
  /** Permits held now in this process, by limit name. */
  private readonly held = new Map<string, number>();
  private readonly decisions: CounterMirror<'limiter' | 'result' | 'reason'>;

  /** @param metrics - the metric set the figures go to */
  constructor(private readonly metrics: MetricSet) {
    this.decisions = new CounterMirror(metrics.permits);
  }

  /** Starts watching `limiter`; one already watched is left as it is. */
  add(limiter: ConcurrencyLimiter): void {
    if (this.detachers.has(limiter)) return;
    const name = limiter.name;
    let tally = this.tallies.get(name);
    if (tally === undefined) {
      tally = new DecisionTally(name);
      this.tallies.set(name, tally);
      this.held.set(name, 0);
    }
    const counts = tally;
    const acquire = (e: ConcurrencyEvents['acquire']): void => {
      // A dry-run admission over the limit holds no permit: counted apart, not in flight.
      if (e.wouldReject !== undefined) return counts.wouldReject(e.wouldReject);
      counts.admitted++;
      this.held.set(name, (this.held.get(name) ?? 0) + 1);
    };
    const reject = (e: ConcurrencyEvents['reject']): void => counts.reject(e.reason);
    const release = (): void => void this.held.set(name, Math.max(0, (this.held.get(name) ?? 0) - 1));
    limiter.on('acquire', acquire);
    limiter.on('reject', reject);
    limiter.on('release', release);
    this.detachers.set(limiter, () => {
      limiter.off('acquire', acquire);
      limiter.off('reject', reject);
      limiter.off('release', release);
    });
  }

  /** Stops watching `limiter` (nothing when it is not watched). */
  remove(limiter: ConcurrencyLimiter): void {
    this.detachers.get(limiter)?.();
    this.detachers.delete(limiter);
  }

  /** Stops watching every limit. */
  removeAll(): void {
    for (const limiter of [...this.detachers.keys()]) this.remove(limiter);
  }

  /** Brings both metrics up to the tallies (before each scrape). */
  collect(): void {
    for (const tally of this.tallies.values()) syncTally(this.decisions, tally, 'acquired');
    for (const [limiter, held] of this.held) this.metrics.permitsInFlight.set({ limiter }, held);
  }
}
