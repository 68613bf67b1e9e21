// The data of a bucket znode: tokens and the server time they refer to, the waiters' book, the key, the shape.

import { EMPTY_BOOK, type Book } from '../../reservation.js';

/** What a bucket znode holds. */
export interface BucketData {
  /** Tokens in the bucket at `at` (negative while waiters are owed tokens). */
  readonly tokens: number;
  /**
   * The server time `tokens` refers to: the writer's estimate of ZooKeeper's clock when it
   * decided. Readers refill from the earlier of this and the znode's mtime, so the refill between
   * a decision and its write is never lost.
   */
  readonly at: number | undefined;
  /** The original key, kept for inspection (`flowgate status`) and collision checks. */
  readonly key: string;
  /** Waiters of the cluster-wide queue, in turn order (see reservation.ts); no entries when nobody waits. */
  readonly book: Book;
  /** The bucket's capacity and refill rate (tokens per ms), so that a janitor can tell a full bucket. */
  readonly burst: number;
  readonly ratePerMs: number;
}

/** Serialises bucket data as compact JSON. */
export function encodeBucket(data: BucketData): Buffer {
  const { seq, entries } = data.book;
  // Arrival and deadline in whole ms: order is kept within 0.5 ms (far below the 10 ms window), and
  // a deadline is rounded down (never later than the waiter's own).
  const e =
    entries.length === 0
      ? undefined
      : entries.map((entry) => {
          const row = [entry.id, Math.round(entry.a), entry.count, entry.owed, entry.d === undefined ? null : Math.floor(entry.d), entry.f ?? null];
          return entry.s === undefined ? row : [...row, Math.ceil(entry.s)];
        });
  const f = e === undefined || data.book.formedAt === undefined ? undefined : Math.round(data.book.formedAt);
  const w = data.book.w;
  return Buffer.from(JSON.stringify({ v: 1, t: data.tokens, a: data.at, k: data.key, e, n: seq === 0 ? undefined : seq, f, w, b: data.burst, r: data.ratePerMs }));
}

/** Parses bucket data; throws on anything flowgate did not write. */
export function decodeBucket(buffer: Buffer | undefined): BucketData {
  const parsed = JSON.parse(buffer === undefined ? 'null' : buffer.toString('utf8')) as {
    v?: number;
    t?: unknown;
    a?: unknown;
    k?: unknown;
    e?: unknown;
    n?: unknown;
    f?: unknown;
    w?: unknown;
    b?: unknown;
    r?: unknown;
  } | null;
  if (parsed?.v !== 1 || typeof parsed.t !== 'number' || typeof parsed.k !== 'string') {
    throw new Error('flowgate: a bucket znode holds data flowgate did not write');
  }
  const entries = Array.isArray(parsed.e)
    ? parsed.e.map(([id, a, count, owed, d, f, s]: [number, number, number, number, number | null, number | null, number | undefined]) => ({
        id,
        a,
        count,
        owed,
        ...(typeof d === 'number' && { d }),
        ...(typeof f === 'number' && { f }),
        ...(typeof s === 'number' && { s }),
      }))
    : [];
  const seq = typeof parsed.n === 'number' ? parsed.n : entries.length === 0 ? 0 : Math.max(...entries.map((entry) => entry.id));
  const marks = bookingMarks(parsed.w);
  const book =
    seq === 0 && entries.length === 0 && marks === undefined
      ? EMPTY_BOOK
      : { seq, entries, ...(entries.length > 0 && typeof parsed.f === 'number' && { formedAt: parsed.f }), ...(marks !== undefined && { w: marks }) };
  return {
    tokens: parsed.t,
    at: typeof parsed.a === 'number' ? parsed.a : undefined,
    key: parsed.k,
    book,
    burst: typeof parsed.b === 'number' ? parsed.b : Number.NaN,
    ratePerMs: typeof parsed.r === 'number' ? parsed.r : Number.NaN,
  };
}

/** The booking marks of a stored book (see `Book.w`): an object of numbers; none when absent or empty. */
function bookingMarks(value: unknown): Record<string, number> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const marks = Object.fromEntries(Object.entries(value).filter(([, n]) => typeof n === 'number'));
  return Object.keys(marks).length > 0 ? (marks as Record<string, number>) : undefined;
}

/** Tokens in a stored bucket at server time `now`: refilled from its time, capped at burst. */
export function storedTokensAt(tokens: number, since: number, now: number, burst: number, ratePerMs: number): number {
  return Math.min(burst, tokens + Math.max(0, now - since) * ratePerMs);
}
