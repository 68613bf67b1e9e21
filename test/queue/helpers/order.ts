// Order analysis of the cluster-wide overflow queue: inversions against the global arrival order.

/** One admitted request, as the apps reported it. */
export interface Admission {
  readonly id: number;
  readonly pid: number;
  /** Wall-clock ms at which the app saw the request (before the rate limiter). */
  readonly arrivedAt: number;
  /** Wall-clock ms at which the app's handler ran (after the rate limiter admitted it). */
  readonly admittedAt: number;
  /** This process's admission counter: its exact local admission order, free of timing noise. */
  readonly seq: number;
  /** Whether it waited in the queue (it got a reservation with a wait > 0). */
  readonly enqueued: boolean;
  /** Its turn on ZooKeeper's clock (the reservation's due time), when enqueued. */
  readonly due: number | undefined;
}

export interface InversionReport {
  /** Pairs considered: a arrived more than `windowMs` before b. */
  readonly pairs: number;
  /** Of those, pairs where b went first. */
  readonly inversions: number;
  /** The largest arrival gap (ms) of an inverted pair: how much earlier the overtaken one came. */
  readonly maxArrivalGapMs: number;
  /** The largest (admission of a) - (admission of b) over inverted pairs, in ms. */
  readonly maxOvertakeMs: number;
  /** The largest distance in arrival rank of an inverted pair. */
  readonly maxRankDistance: number;
  /** Requests involved in at least one inversion. */
  readonly involved: number;
  /** A few inverted pairs, for the report. */
  readonly examples: Array<{ a: number; b: number; arrivalGapMs: number; overtakeMs: number }>;
}

/**
 * Counts the pairs (a, b) where a arrived more than `windowMs` before b, yet b's `key` is smaller
 * than a's (b was admitted, or got its turn, first). O(n²): fine for the hundreds of requests here.
 */
export function inversions(items: readonly Admission[], key: (a: Admission) => number, windowMs: number): InversionReport {
  const sorted = [...items].sort((x, y) => x.arrivedAt - y.arrivedAt);
  let pairs = 0;
  let count = 0;
  let maxArrivalGapMs = 0;
  let maxOvertakeMs = 0;
  let maxRankDistance = 0;
  const involved = new Set<number>();
  const examples: InversionReport['examples'] = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as Admission;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j] as Admission;
      const gap = b.arrivedAt - a.arrivedAt;
      if (gap <= windowMs) continue;
      pairs++;
      const overtake = key(a) - key(b);
      if (overtake > 0) {
        count++;
        involved.add(a.id).add(b.id);
        maxArrivalGapMs = Math.max(maxArrivalGapMs, gap);
        maxOvertakeMs = Math.max(maxOvertakeMs, overtake);
        maxRankDistance = Math.max(maxRankDistance, j - i);
        if (examples.length < 5) examples.push({ a: a.id, b: b.id, arrivalGapMs: round(gap), overtakeMs: round(overtake) });
      }
    }
  }
  return { pairs, inversions: count, maxArrivalGapMs: round(maxArrivalGapMs), maxOvertakeMs: round(maxOvertakeMs), maxRankDistance, involved: involved.size, examples };
}

/** Within each process: pairs admitted (by its own counter) in the reverse of their arrival order. */
export function localInversions(items: readonly Admission[]): number {
  let count = 0;
  const byPid = new Map<number, Admission[]>();
  for (const item of items) byPid.set(item.pid, [...(byPid.get(item.pid) ?? []), item]);
  for (const list of byPid.values()) {
    const sorted = [...list].sort((x, y) => x.arrivedAt - y.arrivedAt);
    for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) if ((sorted[i] as Admission).seq > (sorted[j] as Admission).seq) count++;
  }
  return count;
}

export function describe(report: InversionReport): string {
  return (
    `${report.inversions} inversions in ${report.pairs} pairs (requests involved ${report.involved}; ` +
    `max arrival gap ${report.maxArrivalGapMs} ms, max overtake ${report.maxOvertakeMs} ms, max rank distance ${report.maxRankDistance})` +
    (report.examples.length > 0 ? ` e.g. ${JSON.stringify(report.examples)}` : '')
  );
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
