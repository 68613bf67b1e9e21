// Order analysis of the cluster-wide overflow queue: pairs of requests admitted in the reverse of their arrival order.

/**
 * `items`: `{ id, arrivedAt, admittedAt }` (Date.now() in the apps, one machine). A pair (a, b)
 * counts when a arrived strictly before b; it is an inversion when b was admitted strictly before
 * a (equal millisecond stamps cannot be ordered and are not inversions). Reports the pairs, the
 * inversions, the largest overtake (admission of a − admission of b) and the largest arrival gap of
 * an inverted pair, in ms, and a few examples. O(n²): fine for hundreds of requests.
 */
export function inversions(items) {
  const sorted = [...items].sort((x, y) => x.arrivedAt - y.arrivedAt || x.id - y.id);
  let pairs = 0;
  let count = 0;
  let maxOvertakeMs = 0;
  let maxArrivalGapMs = 0;
  const involved = new Set();
  const examples = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i];
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j];
      if (b.arrivedAt <= a.arrivedAt) continue;
      pairs++;
      if (b.admittedAt < a.admittedAt) {
        count++;
        involved.add(a.id).add(b.id);
        maxOvertakeMs = Math.max(maxOvertakeMs, a.admittedAt - b.admittedAt);
        maxArrivalGapMs = Math.max(maxArrivalGapMs, b.arrivedAt - a.arrivedAt);
        if (examples.length < 5) examples.push({ earlier: a.id, later: b.id, arrivalGapMs: b.arrivedAt - a.arrivedAt, overtakeMs: a.admittedAt - b.admittedAt });
      }
    }
  }
  return { requests: items.length, pairs, inversions: count, involved: involved.size, maxOvertakeMs, maxArrivalGapMs, examples };
}

/** Pairs whose server arrival order differs from their send order (ids ascending): the transport's own reordering. */
export function arrivalVsSend(items) {
  let count = 0;
  for (let i = 0; i < items.length; i++) {
    for (let j = 0; j < items.length; j++) if (items[i].id < items[j].id && items[i].arrivedAt > items[j].arrivedAt) count++;
  }
  return count;
}
