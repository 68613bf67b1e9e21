// The data of a bucket znode: tokens at the node's mtime, waiters' slots, and the original key.

import type { Slot } from '../../reservation.js';

/** What a bucket znode holds. Its time is the znode's `mtime` (server clock), not stored here. */
export interface BucketData {
  /** Tokens in the bucket right after the write that produced this data. */
  readonly tokens: number;
  /** The original key, kept for inspection (`flowgate status`) and collision checks. */
  readonly key: string;
  /** Waiters of the cluster-wide queue, by due time (server clock); empty when nobody waits. */
  readonly slots: readonly Slot[];
}

/** Serialises bucket data as compact JSON. */
export function encodeBucket(data: BucketData): Buffer {
  const q = data.slots.length === 0 ? undefined : data.slots.map((slot) => [slot.due, slot.count]);
  return Buffer.from(JSON.stringify({ v: 1, t: data.tokens, k: data.key, q }));
}

/** Parses bucket data; throws on anything flowgate did not write. */
export function decodeBucket(buffer: Buffer | undefined): BucketData {
  const parsed = JSON.parse(buffer === undefined ? 'null' : buffer.toString('utf8')) as { v?: number; t?: unknown; k?: unknown; q?: unknown } | null;
  if (parsed?.v !== 1 || typeof parsed.t !== 'number' || typeof parsed.k !== 'string') {
    throw new Error('flowgate: a bucket znode holds data flowgate did not write');
  }
  const slots = Array.isArray(parsed.q) ? parsed.q.map(([due, count]: [number, number]) => ({ due, count })) : [];
  return { tokens: parsed.t, key: parsed.k, slots };
}
