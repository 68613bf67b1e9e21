// The data of a bucket znode: tokens and the server time they refer to, waiters' slots, the key, the shape.

import { EMPTY_LEDGER, type Ledger, type Slot } from '../../reservation.js';

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
  /** Waiters of the cluster-wide queue, by due time (server clock); empty when nobody waits. */
  readonly slots: readonly Slot[];
  /** Shifts of waiters' turns by asks that went ahead of them (see reservation.ts). */
  readonly ledger: Ledger;
  /** The bucket's capacity and refill rate (tokens per ms), so that a janitor can tell a full bucket. */
  readonly burst: number;
  readonly ratePerMs: number;
}

/** Serialises bucket data as compact JSON. */
export function encodeBucket(data: BucketData): Buffer {
  const q = data.slots.length === 0 ? undefined : data.slots.map((slot) => [slot.due, slot.count, slot.owed ?? slot.count, slot.v ?? null, slot.d ?? null, slot.p ?? 0]);
  const { seq, shifts } = data.ledger;
  const s = shifts.length === 0 ? undefined : shifts.map((shift) => [shift.seq, shift.from, shift.by, shift.until]);
  return Buffer.from(JSON.stringify({ v: 1, t: data.tokens, a: data.at, k: data.key, q, n: seq === 0 ? undefined : seq, s, b: data.burst, r: data.ratePerMs }));
}

/** Parses bucket data; throws on anything flowgate did not write. */
export function decodeBucket(buffer: Buffer | undefined): BucketData {
  const parsed = JSON.parse(buffer === undefined ? 'null' : buffer.toString('utf8')) as {
    v?: number;
    t?: unknown;
    a?: unknown;
    k?: unknown;
    q?: unknown;
    n?: unknown;
    s?: unknown;
    b?: unknown;
    r?: unknown;
  } | null;
  if (parsed?.v !== 1 || typeof parsed.t !== 'number' || typeof parsed.k !== 'string') {
    throw new Error('flowgate: a bucket znode holds data flowgate did not write');
  }
  const slots = Array.isArray(parsed.q)
    ? parsed.q.map(([due, count, owed, v, d, p]: [number, number, number?, number?, number?, number?]) => ({
        due,
        count,
        ...(typeof owed === 'number' && { owed }),
        ...(typeof v === 'number' && { v }),
        ...(typeof d === 'number' && { d }),
        ...(typeof p === 'number' && p !== 0 && { p }),
      }))
    : [];
  const shifts = Array.isArray(parsed.s) ? parsed.s.map(([seq, from, by, until]: [number, number, number, number]) => ({ seq, from, by, until })) : [];
  const ledger = typeof parsed.n === 'number' ? { seq: parsed.n, shifts } : EMPTY_LEDGER;
  return {
    tokens: parsed.t,
    at: typeof parsed.a === 'number' ? parsed.a : undefined,
    key: parsed.k,
    slots,
    ledger,
    burst: typeof parsed.b === 'number' ? parsed.b : Number.NaN,
    ratePerMs: typeof parsed.r === 'number' ? parsed.r : Number.NaN,
  };
}

/** Tokens in a stored bucket at server time `now`: refilled from its time, capped at burst. */
export function storedTokensAt(tokens: number, since: number, now: number, burst: number, ratePerMs: number): number {
  return Math.min(burst, tokens + Math.max(0, now - since) * ratePerMs);
}
