// The clock the limiter reads: monotonic milliseconds, replaceable in tests and simulations.

/** A source of time in milliseconds. Only differences between readings are used. */
export interface Clock {
  /** Milliseconds since an arbitrary, fixed origin; never goes backwards. */
  now(): number;
}

/** The default clock: `performance.now()`, monotonic and unaffected by wall-clock changes. */
export const monotonicClock: Clock = { now: () => performance.now() };
