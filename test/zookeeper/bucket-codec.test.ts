// The bucket znode's data: tokens, time, key and the waiters' book survive a round trip, order grace and the queue's formation included (pure).

import { decodeBucket, encodeBucket } from '../../src/stores/zookeeper/bucket-codec.js';

describe('bucket codec', () => {
  test('a book round-trips: arrival in whole ms, deadline rounded down, grace end rounded up; absent fields stay absent', () => {
    const entries = [
      { id: 7, a: 1_000.4, count: 2, owed: 2, d: 5_000.9, f: 1 },
      { id: 8, a: 1_020, count: 1, owed: 1, s: 1_120.2 },
    ];
    const data = decodeBucket(encodeBucket({ tokens: -3, at: 1_050, key: 'k/ü', book: { seq: 8, entries }, burst: 5, ratePerMs: 0.01 }));
    expect(data).toMatchObject({ tokens: -3, at: 1_050, key: 'k/ü', burst: 5, ratePerMs: 0.01 });
    expect(data.book).toEqual({
      seq: 8,
      entries: [
        { id: 7, a: 1_000, count: 2, owed: 2, d: 5_000, f: 1 },
        { id: 8, a: 1_020, count: 1, owed: 1, s: 1_121 },
      ],
    });
  });

  test('a book written before the grace existed (six fields) reads without one', () => {
    const old = Buffer.from(JSON.stringify({ v: 1, t: 0, a: 10, k: 'k', e: [[1, 5, 1, 1, null, 1]], n: 1, b: 5, r: 0.01 }));
    expect(decodeBucket(old).book).toEqual({ seq: 1, entries: [{ id: 1, a: 5, count: 1, owed: 1, f: 1 }] });
  });

  test("the queue's formation time round-trips (whole ms) while anybody is in the book, and is dropped with the last entry", () => {
    const entries = [{ id: 3, a: 1_000, count: 1, owed: 1, s: 1_100 }];
    const kept = decodeBucket(encodeBucket({ tokens: -1, at: 1_010, key: 'k', book: { seq: 3, entries, formedAt: 1_000.4 }, burst: 5, ratePerMs: 0.01 }));
    expect(kept.book.formedAt).toBe(1_000);
    const empty = decodeBucket(encodeBucket({ tokens: 5, at: 9_000, key: 'k', book: { seq: 3, entries: [], formedAt: 1_000 }, burst: 5, ratePerMs: 0.01 }));
    expect(empty.book).toEqual({ seq: 3, entries: [] });
  });

  test('booking marks round-trip, also once the book is empty (a write of unknown outcome is still told by them); junk marks are dropped', () => {
    const w = { aB3x: 7, Zq9_: 2 };
    const busy = decodeBucket(encodeBucket({ tokens: -1, at: 10, key: 'k', book: { seq: 3, entries: [{ id: 3, a: 1, count: 1, owed: 1 }], w }, burst: 5, ratePerMs: 0.01 }));
    expect(busy.book.w).toEqual(w);
    const empty = decodeBucket(encodeBucket({ tokens: 5, at: 10, key: 'k', book: { seq: 3, entries: [], w }, burst: 5, ratePerMs: 0.01 }));
    expect(empty.book).toEqual({ seq: 3, entries: [], w });
    const junk = Buffer.from(JSON.stringify({ v: 1, t: 0, a: 10, k: 'k', w: { a: 'x', b: 2 }, b: 5, r: 0.01 }));
    expect(decodeBucket(junk).book.w).toEqual({ b: 2 });
  });
});
