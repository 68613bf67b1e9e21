// The PermitStore seam: where the permits of concurrency limits live. In memory (one process) or in ZooKeeper (a cluster).

/** The validated policy of one concurrency limit. Stores keep one count of permits per (policy name, key). */
export interface ConcurrencyPolicy {
  /** The limit's name: the namespace of its permits in a store. */
  readonly name: string;
  /** The most requests in flight per key. */
  readonly max: number;
}

/** What a store answers to an acquire. */
export interface PermitResult {
  /** Whether a permit was acquired. */
  readonly acquired: boolean;
  /** Permits still free for the key after the attempt, as this process best knows them. */
  readonly remaining: number;
  /** When acquired: what {@link PermitStore.release} needs back to release this permit. */
  readonly ticket?: unknown;
  /**
   * When not acquired because the backing service is unreachable and the store's policy is to
   * refuse then (`onUnavailable: 'closed'`): `'unavailable'`; because the store is closed: `'closed'`.
   */
  readonly reason?: 'unavailable' | 'closed';
  /** When not acquired: the earliest time, in ms from now, at which a retry may succeed, when the store knows. */
  readonly retryAfterMs?: number;
}

/**
 * Keeps the permits of concurrency limits, one count per (policy name, key), and never lets more
 * than `max` be acquired and not yet released. A store never waits for a permit to be released:
 * it answers at once. Every method settles in bounded time, even when a backing service is
 * unreachable.
 */
export interface PermitStore {
  /** Acquires one permit of `key` when one is free now; otherwise acquires nothing. */
  acquire(policy: ConcurrencyPolicy, key: string): Promise<PermitResult>;
  /**
   * Optional fast path: the same as {@link acquire}, answered synchronously when the store can
   * (the memory store always can; a shared store when it already holds a free permit), else
   * `undefined`, and nothing happened.
   */
  acquireSync?(policy: ConcurrencyPolicy, key: string): PermitResult | undefined;
  /** Releases a permit acquired with `ticket`. Called once per acquired permit. */
  release(policy: ConcurrencyPolicy, key: string, ticket: unknown): void;
  /** Permits of `key` in use in this process now. */
  inFlight(policy: ConcurrencyPolicy, key: string): number;
  /** Releases the store's resources (timers, leases). */
  close(): Promise<void>;
}
