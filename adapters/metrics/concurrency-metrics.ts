// The concurrency limits a FlowgateMetrics watches: acquires by result and reason, and permits held now.

import type { ConcurrencyEvents, ConcurrencyLimiter } from '../../src/concurrency/concurrency-limiter.js';
import { CounterMirror } from './counter-mirror.js';
import type { MetricSet } from './metric-set.js';

/** Running totals of the concurrency limits that share one name, in plain numbers (the hot path adds 1). */
interface PermitTally {
  acquired: number;
  readonly rejected: Map<string, number>;
  /** Dry-run admissions the limit would have refused, by reason. */
  readonly dryRunRejected: Map<string, number>;
  /** Permits held now in this process. */
  held: number;
}

/**
 * Watches concurrency limits and keeps their figures for `flowgate_concurrency_decisions_total`
 * and `flowgate_concurrency_in_flight`. Limits that share a name share their series.
 */
export class ConcurrencyMetrics {
  private readonly detachers = new Map<ConcurrencyLimiter, () => void>();
  private readonly tallies = new Map<string, PermitTally>();
  private readonly decisions: CounterMirror<'limiter' | 'result' | 'reason'>;

  /** @param metrics - the metric set the figures go to */
  constructor(private readonly metrics: MetricSet) {
    this.decisions = new CounterMirror(metrics.permits);
  }

  /** Starts watching `limiter`; one already watched is left as it is. */
  add(limiter: ConcurrencyLimiter): void {
    if (this.detachers.has(limiter)) return;
    let tally = this.tallies.get(limiter.name);
    if (tally === undefined) {
      tally = { acquired: 0, rejected: new Map(), dryRunRejected: new Map(), held: 0 };
      this.tallies.set(limiter.name, tally);
    }
    const counts = tally;
    const acquire = (e: ConcurrencyEvents['acquire']): void => {
      // A dry-run admission over the limit holds no permit: counted apart, not in flight.
      if (e.wouldReject !== undefined) return void counts.dryRunRejected.set(e.wouldReject, (counts.dryRunRejected.get(e.wouldReject) ?? 0) + 1);
      counts.acquired++;
      counts.held++;
    };
    const reject = (e: ConcurrencyEvents['reject']): void => void counts.rejected.set(e.reason, (counts.rejected.get(e.reason) ?? 0) + 1);
    const release = (): void => {
      counts.held = Math.max(0, counts.held - 1);
    };
    limiter.on('acquire', acquire);
    limiter.on('reject', reject);
    limiter.on('release', release);
    this.detachers.set(limiter, () => {
      limiter.off('acquire', acquire);
      limiter.off('reject', reject);
      limiter.off('release', release);
    });
  }

  /** Whether `limiter` is watched. */
  has(limiter: ConcurrencyLimiter): boolean {
    return this.detachers.has(limiter);
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
    for (const [limiter, tally] of this.tallies) {
      this.decisions.sync(`${limiter}\u0000acquired`, { limiter, result: 'acquired', reason: '' }, tally.acquired);
      for (const [reason, total] of tally.rejected) this.decisions.sync(`${limiter}\u0000rejected\u0000${reason}`, { limiter, result: 'rejected', reason }, total);
      for (const [reason, total] of tally.dryRunRejected) {
        this.decisions.sync(`${limiter}\u0000dry_run_rejected\u0000${reason}`, { limiter, result: 'dry_run_rejected', reason }, total);
      }
      this.metrics.permitsInFlight.set({ limiter }, tally.held);
    }
  }
}
