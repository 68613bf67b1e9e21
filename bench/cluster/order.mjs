// Order analysis of the cluster-wide overflow queue: pairs of requests admitted in the reverse of their arrival order.

/** The cross-process order window of the issue (the queue batches waiters that arrive within it). */
export const ORDER_WINDOW_MS = 10;

/**
 * `items`: `{ id, arrivedAt, admittedAt }` (Date.now() in the apps, one machine). A pair (a, b)
 * counts when a arrived strictly before b; it is an inversion when b was admitted strictly before
 * a (equal millisecond stamps cannot be ordered and are not inversions). Reports the pairs, the
 * inversions, the largest overtake (admission of a − admission of b) and the largest arrival gap of
 * an inverted pair, in ms, a few examples and the pair with the largest overtake; and apart, the
 * pairs that arrived more than `windowMs` apart (`beyondWindow`), the only ones the queue's order
 * promise covers. O(n²): fine for hundreds of requests.
 */
export function inversions(items, windowMs = ORDER_WINDOW_MS) {
  const sorted = [...items].sort((x, y) => x.arrivedAt - y.arrivedAt || x.id - y.id);
  let pairs = 0;
  let count = 0;
  let maxOvertakeMs = 0;
  let maxArrivalGapMs = 0;
  const involved = new Set();
  const examples = [];
  let worst;
  // Pairs that arrived more than the window apart: the only inversions the queue's contract rules out.
  const beyond = { pairs: 0, inversions: 0, maxOvertakeMs: 0, worst: undefined, latestSinceStartMs: undefined };
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i];
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j];
      if (b.arrivedAt <= a.arrivedAt) continue;
      pairs++;
      const farApart = b.arrivedAt - a.arrivedAt > windowMs;
      if (farApart) beyond.pairs++;
      if (b.admittedAt < a.admittedAt) {
        count++;
        involved.add(a.id).add(b.id);
        maxOvertakeMs = Math.max(maxOvertakeMs, a.admittedAt - b.admittedAt);
        maxArrivalGapMs = Math.max(maxArrivalGapMs, b.arrivedAt - a.arrivedAt);
        const example = {
          earlier: a.id,
          later: b.id,
          earlierPid: a.pid,
          laterPid: b.pid,
          // When the earlier one arrived, ms after the first request of the run.
          sinceStartMs: a.arrivedAt - (sorted[0]?.arrivedAt ?? a.arrivedAt),
          arrivalGapMs: b.arrivedAt - a.arrivedAt,
          overtakeMs: a.admittedAt - b.admittedAt,
        };
        if (examples.length < 5) examples.push(example);
        if (worst === undefined || example.overtakeMs > worst.overtakeMs) worst = example;
        if (farApart) {
          beyond.inversions++;
          if (beyond.worst === undefined || example.overtakeMs > beyond.worst.overtakeMs) beyond.worst = example;
          beyond.maxOvertakeMs = beyond.worst.overtakeMs;
          beyond.latestSinceStartMs = Math.max(beyond.latestSinceStartMs ?? 0, example.sinceStartMs);
        }
      }
    }
  }
  return { requests: items.length, pairs, inversions: count, involved: involved.size, maxOvertakeMs, maxArrivalGapMs, examples, worst, beyondWindow: { windowMs, ...beyond } };
}

/** Pairs whose server arrival order differs from their send order (ids ascending): the transport's own reordering. */
export function arrivalVsSend(items) {
  let count = 0;
  for (let i = 0; i < items.length; i++) {
    for (let j = 0; j < items.length; j++) if (items[i].id < items[j].id && items[i].arrivedAt > items[j].arrivedAt) count++;
  }
  return count;
}

/**
 * The fewest reservation writes with which these waiters could have been booked in arrival order:
 * the floor of any design in which a process learns of a waiter when it arrives and must book it
 * before its turn (else the token at its turn goes to a later arrival that is booked already).
 * `items`: the requests that waited, `{ pid, arrivedAt, admittedAt }`. Per process, the greedy
 * cover is optimal: the earliest unbooked waiter's write comes at its turn (its admission: no
 * margin, no write or notification time), and books every waiter of that process arrived by then.
 */
export function fewestWrites(items) {
  const byProcess = new Map();
  for (const item of items) byProcess.set(item.pid, [...(byProcess.get(item.pid) ?? []), item]);
  let writes = 0;
  for (const waiters of byProcess.values()) {
    waiters.sort((x, y) => x.arrivedAt - y.arrivedAt);
    for (let i = 0; i < waiters.length; writes++) {
      const bookBy = waiters[i].admittedAt;
      while (i < waiters.length && waiters[i].arrivedAt <= bookBy) i++;
    }
  }
  return writes;
}
