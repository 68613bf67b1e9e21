// Pure token-bucket math with the clock passed in: refill, fit, time until a cost fits, time until full.

/** The shape of a bucket: how fast it refills and how much it holds. */
export interface BucketShape {
  /** Tokens added per millisecond. */
  readonly ratePerMs: number;
  /** Capacity: the most tokens the bucket can hold. */
  readonly burst: number;
}

/** A bucket's content at a moment. */
export interface BucketState {
  /** Tokens in the bucket at `updatedAt` (fractional; refill is continuous). */
  readonly tokens: number;
  /** The clock reading at which `tokens` was true. */
  readonly updatedAt: number;
}

/** Floating-point slack, so that a token refilled "exactly on time" counts as there. */
const EPSILON = 1e-9;

/** A new, full bucket at `now`. */
export function fullBucket(shape: BucketShape, now: number): BucketState {
  return { tokens: shape.burst, updatedAt: now };
}

/** Tokens in the bucket at `now`, refilled continuously and capped at burst. */
export function tokensAt(state: BucketState, shape: BucketShape, now: number): number {
  const elapsed = Math.max(0, now - state.updatedAt);
  return Math.min(shape.burst, state.tokens + elapsed * shape.ratePerMs);
}

/** Whether `cost` tokens can be taken from `tokens`. */
export function fits(tokens: number, cost: number): boolean {
  return tokens + EPSILON >= cost;
}

/** Milliseconds until `tokens` has refilled to at least `cost` (0 when it already has). */
export function msUntilFits(tokens: number, cost: number, shape: BucketShape): number {
  return fits(tokens, cost) ? 0 : (cost - tokens) / shape.ratePerMs;
}

/** Milliseconds until a bucket holding `tokens` is full again. */
export function msUntilFull(tokens: number, shape: BucketShape): number {
  return Math.max(0, (shape.burst - tokens) / shape.ratePerMs);
}

/** The result of {@link takeTokens}. */
export interface TakeOutcome {
  /** Whether the cost was taken. */
  readonly taken: boolean;
  /** The bucket after the attempt (refilled to `now`, less the cost when taken). */
  readonly state: BucketState;
}

/** Takes `cost` tokens at `now` when they fit; otherwise only refills. */
export function takeTokens(state: BucketState, shape: BucketShape, cost: number, now: number): TakeOutcome {
  const tokens = tokensAt(state, shape, now);
  // A clock that stepped back does not move the bucket's time back (its refill would count twice).
  const updatedAt = Math.max(state.updatedAt, now);
  if (!fits(tokens, cost)) return { taken: false, state: { tokens, updatedAt } };
  return { taken: true, state: { tokens: Math.max(0, tokens - cost), updatedAt } };
}

/** Returns `amount` tokens to the bucket at `now`, never above burst. */
export function returnTokens(state: BucketState, shape: BucketShape, amount: number, now: number): BucketState {
  return { tokens: Math.min(shape.burst, tokensAt(state, shape, now) + amount), updatedAt: Math.max(state.updatedAt, now) };
}
