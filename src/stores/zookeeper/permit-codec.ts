// The data of a permit znode (who holds how many permits of one key) and the pure math of a claim.

/** What a permit znode holds: the original key, the limit, the permits each holder claimed, and who waits for one. */
export interface PermitData {
  /** The original key, kept for inspection and collision checks. */
  readonly key: string;
  /** The concurrency limit of the last writer. */
  readonly max: number;
  /** Permits claimed, by holder (`<member id>~<store instance>`); holders with none are absent. */
  readonly held: Readonly<Record<string, number>>;
  /** Holders that were refused for lack of a free permit and still want one: holders over their share give freed permits back. */
  readonly waiting: readonly string[];
}

/** Serialises permit data as compact JSON: `{"v":1,"k":key,"max":N,"held":{holder:count},"w":[holder]}` (`w` only when someone waits). */
export function encodePermits(data: PermitData): Buffer {
  const w = data.waiting.length === 0 ? undefined : data.waiting;
  return Buffer.from(JSON.stringify({ v: 1, k: data.key, max: data.max, held: data.held, w }));
}

/** Parses permit data; throws on anything flowgate did not write. */
export function decodePermits(buffer: Buffer | undefined): PermitData {
  const parsed = JSON.parse(buffer === undefined ? 'null' : buffer.toString('utf8')) as { v?: unknown; k?: unknown; max?: unknown; held?: unknown; w?: unknown } | null;
  const held = parsed?.held;
  if (parsed?.v !== 1 || typeof parsed.k !== 'string' || typeof parsed.max !== 'number' || held === null || typeof held !== 'object' || Array.isArray(held)) {
    throw new Error('flowgate: a permit znode holds data flowgate did not write');
  }
  const counts: Record<string, number> = {};
  for (const [holder, count] of Object.entries(held as Record<string, unknown>)) {
    if (typeof count === 'number' && Number.isInteger(count) && count > 0) counts[holder] = count;
  }
  const waiting = Array.isArray(parsed.w) ? parsed.w.filter((holder): holder is string => typeof holder === 'string') : [];
  return { key: parsed.k, max: parsed.max, held: counts, waiting };
}

/** A holder's name: this process's member id and the permit store instance, so two stores of one process never share an entry. */
export function holderName(memberId: string, instance: string): string {
  return `${memberId}~${instance}`;
}

/** The member id of a holder (whose ephemeral member node tells whether it is alive). */
export function memberOf(holder: string): string {
  const cut = holder.indexOf('~');
  return cut < 0 ? holder : holder.slice(0, cut);
}

/** The outcome of {@link claim}. */
export interface Claim {
  /** The holders' counts after the claim. */
  readonly held: Record<string, number>;
  /** What `self` holds after the claim. */
  readonly granted: number;
  /** Permits nobody holds after the claim. */
  readonly free: number;
}

/**
 * `self` asks to hold `desired` permits in all: it gets as many as fit under `max` beside what the
 * other holders hold (never more than it asks, never below 0). Whatever `self` held before does
 * not count: a claim lost with an expired session is not trusted, it is claimed again.
 */
export function claim(held: Readonly<Record<string, number>>, self: string, desired: number, max: number): Claim {
  let others = 0;
  for (const holder of Object.keys(held)) if (holder !== self) others += held[holder] as number;
  const granted = Math.max(0, Math.min(desired, max - others));
  const next: Record<string, number> = { ...held };
  if (granted > 0) next[self] = granted;
  else delete next[self];
  return { held: next, granted, free: Math.max(0, max - others - granted) };
}
