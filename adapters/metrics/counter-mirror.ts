// Brings a prom-client Counter up to running totals kept elsewhere, by their increase since the last scrape.

import type { Counter, LabelValues } from 'prom-client';

interface Series {
  readonly child: { inc(value?: number): void };
  last: number;
}

/**
 * Mirrors monotonic totals (plain numbers counted on the hot path, or a store's `stats()`) into a
 * Counter: `sync` adds what a total grew by since the previous `sync` of the same source. Several
 * sources may feed one series (two limiters of the same name, two stores): the series is their sum.
 * A total that went down (its source started over) is taken as the new starting point.
 */
export class CounterMirror<L extends string> {
  private readonly series = new Map<string, Series>();

  /** @param counter - the counter the totals are added to */
  constructor(private readonly counter: Counter<L>) {}

  /** Adds to the series `labels` what the total of `source` (any string unique to it) grew by since the last call. */
  sync(source: string, labels: LabelValues<L> | undefined, total: number): void {
    let series = this.series.get(source);
    if (series === undefined) {
      const counter = this.counter;
      series = { child: labels === undefined ? { inc: (value) => counter.inc(value) } : counter.labels(labels), last: 0 };
      // Exposed from the start (at 0), so that rate() sees the first increase.
      series.child.inc(0);
      this.series.set(source, series);
    }
    if (!Number.isFinite(total)) return;
    if (total > series.last) series.child.inc(total - series.last);
    series.last = total;
  }
}
