// Decisions of one limiter name counted in plain numbers: the hot path adds 1, the scrape reads the totals.

/**
 * Running totals of the decisions of the limiters that share one name (the `limiter` label).
 * Plain numbers rather than prom-client children, whose `inc` hashes the label set on every call:
 * the request path only adds 1 here, and `flowgate_decisions_total` is brought up to these totals
 * when it is scraped.
 */
export class DecisionTally {
  /** Admitted takes, at once or after waiting. */
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
