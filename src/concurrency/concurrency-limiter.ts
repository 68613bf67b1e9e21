// A concurrency limit: at most N requests in flight per key, each holding a permit until it ends.

import { EventEmitter } from 'node:events';
import type { Decision, RejectReason } from '../decision.js';
import { FlowgateArgumentError, FlowgateConfigError } from '../errors.js';
import { rejectUnknownOptions, requireNumber } from '../limiter-options.js';
import { bucketPolicy, type BucketPolicy } from '../policy.js';
import type { Store } from '../store.js';
import { MemoryPermitStore } from './memory-permit-store.js';
import { permitStoreFor } from './permit-store-for.js';
import type { ConcurrencyPolicy, PermitResult, PermitStore } from './permit-store.js';
import { brand } from '../brand.js';

/** Options of {@link createConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** The most requests in flight per key: an integer >= 1. Required. */
  concurrency: number;
  /** The limit's name: the namespace of its permits in a store. Default `'default'`. */
  name?: string;
  /**
   * Where permits live: a `ZooKeeperStore` (permits shared by the cluster), a `MemoryStore`, or a
   * {@link PermitStore}. Default: a new in-memory permit store (exact, one process).
   */
  store?: Store | PermitStore;
  /**
   * Shadow mode: an acquire the limit would refuse (`'concurrency'`, `'unavailable'`) is admitted
   * with `dryRun: true` and `wouldReject` set, and holds no permit (it is not counted in flight).
   * Default `false`.
   */
  dryRun?: boolean;
}

/** Payloads of the events emitted by {@link ConcurrencyLimiter}, by event name. */
export interface ConcurrencyEvents {
  /**
   * A permit was given: `remaining` permits of the key are still free (as this process knows them).
   * In dry-run, `wouldReject` marks an acquire the limit would have refused (it holds no permit).
   */
  acquire: { key: string; remaining: number; wouldReject?: RejectReason };
  /** An acquire was refused: `'concurrency'` (the key is at its limit), `'unavailable'` or `'closed'`. */
  reject: { key: string; reason: RejectReason; retryAfterMs: number };
  /** A permit was released, after being held `heldMs`; it was acquired at `acquiredAt` (`performance.now()`). */
  release: { key: string; heldMs: number; acquiredAt: number };
}

/** The name of a concurrency limiter event. */
export type ConcurrencyEventName = keyof ConcurrencyEvents;

/** The right to have one request in flight. */
export interface Permit {
  /** Releases the permit. Idempotent: returns true the first time, false after. */
  release(): boolean;
  /** Whether the permit was released. */
  readonly released: boolean;
}

/**
 * The outcome of {@link ConcurrencyLimiter.acquire}: a {@link Decision} (so adapters answer it like a
 * rate decision), with the permit when admitted. `limit` is the concurrency limit, `remaining` the
 * permits still free (as this process knows them), `cost` 1, `resetMs` 0. Rejected with reason
 * `'concurrency'` (the key has `limit` requests in flight), `'unavailable'` or `'closed'`.
 */
export interface PermitDecision extends Decision {
  /** The permit, when admitted: release it when the request ends. */
  readonly permit: Permit | undefined;
}

const KNOWN = ['concurrency', 'name', 'store', 'dryRun'];
const NAME_PATTERN = /^[\x20-\x7e]{1,128}$/;
/** Weight of the latest hold time in the running mean that sizes `retryAfterMs`. */
const HOLD_WEIGHT = 0.2;
const MAX_RETRY_AFTER_MS = 60_000;

/** The permit of a dry-run admission over the limit: nothing to give back. */
class ShadowPermit implements Permit {
  released = false;

  release(): boolean {
    if (this.released) return false;
    this.released = true;
    return true;
  }
}

class HeldPermit implements Permit {
  released = false;

  constructor(private readonly onRelease: () => void) {}

  release(): boolean {
    if (this.released) return false;
    this.released = true;
    this.onRelease();
    return true;
  }
}

/**
 * At most `concurrency` requests in flight per key, in this process (memory store) or across a
 * cluster (ZooKeeper store). Create one with {@link createConcurrencyLimiter}, or give the HTTP
 * adapters a `concurrency` option. Each admitted request holds a {@link Permit} until it releases it.
 */
export class ConcurrencyLimiter extends EventEmitter {
  /** The validated policy. */
  readonly policy: ConcurrencyPolicy;
  /**
   * The limit as a decision's `policy`: a bucket of `concurrency` permits that never refills by
   * time (a permit comes back when it is released).
   */
  readonly bucketView: BucketPolicy;
  /** Shadow mode (the `dryRun` option): nothing is refused; would-be refusals are marked. */
  readonly dryRun: boolean;
  private readonly store: PermitStore;
  private readonly ownsStore: boolean;
  private closed = false;
  /** Running mean of how long permits are held, ms: sizes `retryAfterMs`. */
  private holdMs = 0;

  /** Use {@link createConcurrencyLimiter}, which validates the options. */
  constructor(options: ConcurrencyLimiterOptions) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new FlowgateConfigError('options', options, 'must be an object such as { concurrency: 10 }');
    }
    rejectUnknownOptions(options, KNOWN);
    const max = requireNumber('concurrency', options.concurrency, { integer: true, min: 1, minInclusive: true });
    const name = options.name ?? 'default';
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) throw new FlowgateConfigError('name', name, 'must be 1 to 128 printable ASCII characters');
    this.policy = Object.freeze({ name, max });
    if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') throw new FlowgateConfigError('dryRun', options.dryRun, 'must be true or false');
    this.dryRun = options.dryRun ?? false;
    this.bucketView = bucketPolicy(name, 0, 1000, max, true);
    const { store } = options;
    this.ownsStore = !isPermitStore(store);
    if (store === undefined) this.store = new MemoryPermitStore();
    else if (isPermitStore(store)) this.store = store;
    else if (typeof (store as Partial<Store> | null)?.take === 'function') this.store = permitStoreFor(store);
    else throw new FlowgateConfigError('store', store, 'must be a MemoryStore, a ZooKeeperStore or a PermitStore');
  }

  /** The limit's name. */
  get name(): string {
    return this.policy.name;
  }

  /** The most requests in flight per key. */
  get max(): number {
    return this.policy.max;
  }

  /**
   * Acquires a permit for a request of `key`: admitted with the permit when fewer than `max`
   * requests of the key are in flight, rejected at once otherwise (reason `'concurrency'`, with a
   * `retryAfterMs` estimated from how long permits are held). Never waits for a release.
   */
  async acquire(key: string): Promise<PermitDecision> {
    if (typeof key !== 'string') throw new FlowgateArgumentError('key', key, 'must be a string');
    if (this.closed) return this.rejected(key, { acquired: false, remaining: 0 }, 'closed');
    return this.decide(key, await this.store.acquire(this.policy, key));
  }

  /**
   * The synchronous fast path of {@link acquire}: a decision when the store can answer at once,
   * else `undefined` and nothing was acquired (call {@link acquire} then).
   */
  tryAcquireSync(key: string): PermitDecision | undefined {
    const store = this.store;
    if (store.acquireSync === undefined || this.closed) return undefined;
    if (typeof key !== 'string') throw new FlowgateArgumentError('key', key, 'must be a string');
    const result = store.acquireSync(this.policy, key);
    return result === undefined ? undefined : this.decide(key, result);
  }

  /** Requests of `key` in flight in this process (holding a permit of this limit's store). */
  inFlight(key: string): number {
    return this.store.inFlight(this.policy, key);
  }

  /**
   * Stops the limiter: later acquires are rejected with reason `'closed'`; permits still held may
   * be released. Closes the permit store when the limiter made it (giving shared permits back).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsStore) await this.store.close();
  }

  private decide(key: string, result: PermitResult): PermitDecision {
    if (!result.acquired && this.dryRun) return this.shadow(key, result, result.reason ?? 'concurrency');
    if (!result.acquired) return this.rejected(key, result, result.reason ?? 'concurrency');
    const since = performance.now();
    const { store, policy } = this;
    const ticket = result.ticket;
    const permit = new HeldPermit(() => {
      const heldMs = performance.now() - since;
      this.holdMs += HOLD_WEIGHT * (heldMs - this.holdMs);
      store.release(policy, key, ticket);
      if (this.listenerCount('release') > 0) this.emit('release', { key, heldMs, acquiredAt: since });
    });
    if (this.listenerCount('acquire') > 0) this.emit('acquire', { key, remaining: result.remaining });
    return this.admitted(key, result.remaining, permit);
  }

  /** A dry-run admission of an acquire the limit refused: marked, with a permit that holds nothing. */
  private shadow(key: string, result: PermitResult, wouldReject: RejectReason): PermitDecision {
    if (this.listenerCount('acquire') > 0) this.emit('acquire', { key, remaining: result.remaining, wouldReject });
    return { ...this.admitted(key, result.remaining, new ShadowPermit()), dryRun: true, wouldReject };
  }

  private admitted(key: string, remaining: number, permit: Permit): PermitDecision {
    return { allowed: true, key, cost: 1, limit: this.policy.max, remaining, resetMs: 0, retryAfterMs: 0, waitedMs: 0, policy: this.bucketView, permit };
  }

  private rejected(key: string, result: PermitResult, reason: RejectReason): PermitDecision {
    // With `max` requests in flight, one of them ends after about holdMs / max on average.
    const retryAfterMs = result.retryAfterMs ?? Math.min(MAX_RETRY_AFTER_MS, this.holdMs / this.policy.max);
    if (this.listenerCount('reject') > 0) this.emit('reject', { key, reason, retryAfterMs });
    return {
      allowed: false,
      key,
      cost: 1,
      limit: this.policy.max,
      remaining: result.remaining,
      resetMs: 0,
      retryAfterMs,
      waitedMs: 0,
      reason,
      policy: this.bucketView,
      permit: undefined,
    };
  }
}

function isPermitStore(store: unknown): store is PermitStore {
  const candidate = store as Partial<PermitStore> | null | undefined;
  return typeof candidate?.acquire === 'function' && typeof candidate.release === 'function';
}

// Typed event methods: `concurrency.on('reject', (e) => e.reason)`.
export interface ConcurrencyLimiter {
  on<E extends ConcurrencyEventName>(event: E, listener: (payload: ConcurrencyEvents[E]) => void): this;
  once<E extends ConcurrencyEventName>(event: E, listener: (payload: ConcurrencyEvents[E]) => void): this;
  off<E extends ConcurrencyEventName>(event: E, listener: (payload: ConcurrencyEvents[E]) => void): this;
  emit<E extends ConcurrencyEventName>(event: E, payload: ConcurrencyEvents[E]): boolean;
}

/**
 * Creates a {@link ConcurrencyLimiter}. Every option is validated here: a bad one throws
 * {@link FlowgateConfigError} naming the option, the value and what is allowed.
 *
 * @example
 * const uploads = createConcurrencyLimiter({ concurrency: 3, name: 'uploads', store: zooKeeperStore });
 * const decision = await uploads.acquire(userId);
 * if (decision.allowed) try { await work(); } finally { decision.permit?.release(); }
 */
export function createConcurrencyLimiter(options: ConcurrencyLimiterOptions): ConcurrencyLimiter {
  return new ConcurrencyLimiter(options);
}

brand(ConcurrencyLimiter, 'ConcurrencyLimiter');
