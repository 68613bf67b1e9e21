// Decisions of one limiter name counted in plain numbers: the hot path adds 1, the scrape reads the totals.

import type { CounterMirror } from './counter-mirror.js';

/**
 * Running totals of the decisions of the limiters that share one name (the `limiter` label).
 * Plain numbers rather than prom-client children, whose `inc` hashes the label set on every call:
 * the request path only adds 1 here, and `flowgate_decisions_total` is brought up to these totals
 * when it is scraped.
 */
export class DecisionTally {
  /** Admitted takes, at once or after waiting (for a concurrency limit: permits acquired). */
  admitted = 0;
  /** Rejected takes, by reason. */
  readonly rejected = new Map<string, number>();
  /** Takes a dry-run limiter admitted but would have rejected, by the reason they would have had. */
  readonly dryRunRejected = new Map<string, number>();

  /** @param limiter - the limiter name these totals are labelled with */
  constructor(readonly limiter: string) {}

  /** Counts one rejection for `reason`. */
  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  /** Counts one dry-run admission that would have been rejected for `reason`. */
  wouldReject(reason: string): void {
    this.dryRunRejected.set(reason, (this.dryRunRejected.get(reason) ?? 0) + 1);
  }
}

/**
 * Brings a decisions counter (`limiter`, `result`, `reason`) up to a tally: `admittedResult` names
 * the admissions (`admitted` for rate limits, `acquired` for concurrency limits), then `rejected`
 * and `dry_run_rejected` by reason.
 */
export function syncTally(mirror: CounterMirror<'limiter' | 'result' | 'reason'>, tally: DecisionTally, admittedResult: string): void {
  const { limiter } = tally;
  mirror.sync(`${limiter}\u0000${admittedResult}`, { limiter, result: admittedResult, reason: '' }, tally.admitted);
  for (const [reason, total] of tally.rejected) mirror.sync(`${limiter}\u0000rejected\u0000${reason}`, { limiter, result: 'rejected', reason }, total);
  for (const [reason, total] of tally.dryRunRejected) {
    mirror.sync(`${limiter}\u0000dry_run_rejected\u0000${reason}`, { limiter, result: 'dry_run_rejected', reason }, total);
  }
}
