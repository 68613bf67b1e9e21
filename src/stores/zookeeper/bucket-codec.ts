// The data of a bucket znode: tokens at the node's mtime, and the original key for inspection.

/** What a bucket znode holds. Its time is the znode's `mtime` (server clock), not stored here. */
export interface BucketData {
  /** Tokens in the bucket right after the write that produced this data. */
  readonly tokens: number;
  /** The original key, kept for inspection (`flowgate status`) and collision checks. */
  readonly key: string;
}

/** Serialises bucket data as compact JSON. */
export function encodeBucket(data: BucketData): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, t: data.tokens, k: data.key }));
}

/** Parses bucket data; throws on anything flowgate did not write. */
export function decodeBucket(buffer: Buffer | undefined): BucketData {
  const parsed = JSON.parse(buffer === undefined ? 'null' : buffer.toString('utf8')) as { v?: number; t?: unknown; k?: unknown } | null;
  if (parsed?.v !== 1 || typeof parsed.t !== 'number' || typeof parsed.k !== 'string') {
    throw new Error('flowgate: a bucket znode holds data flowgate did not write');
  }
  return { tokens: parsed.t, key: parsed.k };
}
