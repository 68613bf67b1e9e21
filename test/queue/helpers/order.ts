// Order analysis of the cluster-wide overflow queue: admissions, and inversions of arrival order within a process and
// across processes (the benchmark's figures, with every pair counted: bench/cluster/order.mjs).

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
  /** Wall-clock ms at which its reservation came back (the booking had landed), when enqueued. */
  readonly bookedAt?: number | undefined;
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

/**
 * Across processes: pairs of enqueued requests (a, b) where a arrived more than `windowMs` before
 * b, yet b was admitted more than `toleranceMs` before a (answers due at the same moment in two
 * processes are stamped that far apart by their event loops). A pair is counted apart (`late`)
 * when a booking landed too late to go ahead of b: a's own (it landed within `horizonMs` of b's
 * admission, when b's turn was within the book's jump horizon), or that of an earlier arrival x
 * (within the window of a) that b overtook too: a new ask never goes ahead of x, which arrived
 * before it, so it stays behind b as well. `pairs`: the pairs more than `windowMs` apart.
 */
export function crossInversions(items: readonly Admission[], windowMs: number, toleranceMs: number, horizonMs: number): { inverted: Array<{ earlier: number; later: number; gapMs: number; overtakeMs: number }>; late: number; pairs: number } {
  const sorted = items.filter((item) => item.enqueued).sort((x, y) => x.arrivedAt - y.arrivedAt);
  const bookedLate = (x: Admission, b: Admission): boolean => x.bookedAt === undefined || b.admittedAt - x.bookedAt <= horizonMs;
  // For each b: the earliest arrival among the requests it overtook whose booking came too late.
  const earliestLate = sorted.map((b) => {
    let earliest = Number.POSITIVE_INFINITY;
    for (const x of sorted) {
      if (x.arrivedAt >= b.arrivedAt) break;
      if (x.admittedAt > b.admittedAt && bookedLate(x, b)) earliest = Math.min(earliest, x.arrivedAt);
    }
    return earliest;
  });
  const inverted: Array<{ earlier: number; later: number; gapMs: number; overtakeMs: number }> = [];
  let late = 0;
  let pairs = 0;
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as Admission;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j] as Admission;
      if (b.arrivedAt - a.arrivedAt <= windowMs) continue;
      pairs++;
      if (a.admittedAt - b.admittedAt <= toleranceMs) continue;
      if (bookedLate(a, b) || (earliestLate[j] as number) <= a.arrivedAt + windowMs) late++;
      else inverted.push({ earlier: a.id, later: b.id, gapMs: Math.round(b.arrivedAt - a.arrivedAt), overtakeMs: Math.round(a.admittedAt - b.admittedAt) });
    }
  }
  return { inverted, late, pairs };
}
