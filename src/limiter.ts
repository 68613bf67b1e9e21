// The Limiter: validates a take, asks the store (directly or through the overflow queue), and decides.

import { EventEmitter } from 'node:events';
import { monotonicClock, type Clock } from './clock.js';
import { admittedDecision, rejectedDecision, type Decision } from './decision.js';
import { FlowgateArgumentError } from './errors.js';
import type { LimiterEventName, LimiterEvents } from './limiter-events.js';
import type { RejectReason } from './decision.js';
import { resolveLimiterOptions, type LimiterOptions } from './limiter-options.js';
import { MemoryStore } from './memory-store.js';
import { OverflowQueue } from './overflow-queue.js';
import { ReservationQueue } from './reservation-queue.js';
import type { QueueLimits, QueueObserver, QueueOutcome, TakeQueue } from './take-queue.js';
import type { BucketPolicy } from './policy.js';
import type { Store } from './store.js';
import { msUntilFits, msUntilFull } from './token-bucket.js';

/** Options of one {@link Limiter.take}. */
export interface TakeOptions {
  /** Tokens this request costs. A finite number >= 0; default 1. */
  cost?: number;
  /** Aborting it (for example when the client disconnects) removes the take from the queue. */
  signal?: AbortSignal;
}

/** What {@link Limiter.peek} reports about a key, without taking anything. */
export interface KeyState {
  readonly key: string;
  /** Capacity (burst). */
  readonly limit: number;
  /** Whole tokens in the bucket now. */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
  /** Takes waiting in this process's overflow queue for the key. */
  readonly queued: number;
}

/**
 * A token-bucket rate limiter with an optional overflow queue. Create one with {@link createLimiter}.
 *
 * Emits the events of {@link LimiterEvents}: `admit`, `reject`, `enqueue`, `dequeue`, `timeout`, `abort`.
 */
export class Limiter extends EventEmitter {
  /** The validated bucket policy. */
  readonly policy: BucketPolicy;
  /** Whether takes over the limit may wait (the `queue` option). */
  readonly queueing: boolean;
  private readonly store: Store;
  private readonly ownsStore: boolean;
  private readonly clock: Clock;
  private readonly queue: TakeQueue | undefined;
  private closed = false;
  private readonly unforward: () => void;

  /** Use {@link createLimiter}, which validates the options. */
  constructor(options: LimiterOptions) {
    super();
    const resolved = resolveLimiterOptions(options);
    this.policy = resolved.policy;
    this.clock = resolved.clock ?? monotonicClock;
    this.ownsStore = resolved.store === undefined;
    this.store = resolved.store ?? new MemoryStore({ clock: this.clock });
    this.queueing = resolved.queue !== undefined;
    this.queue = resolved.queue === undefined ? undefined : this.createQueue(resolved.queue);
    this.unforward = forwardStoreEvents(this.store, this);
  }

  /** The limiter's name (the policy name in headers). */
  get name(): string {
    return this.policy.name;
  }

  /**
   * Takes `cost` tokens (default 1) from the bucket of `key`. Resolves with a {@link Decision}:
   * admitted at once, admitted after waiting in the overflow queue, or rejected with a reason and
   * an honest `retryAfterMs`. Never waits longer than the queue's `maxWait`.
   */
  async take(key: string, options: TakeOptions = {}): Promise<Decision> {
    if (typeof key !== 'string') throw new FlowgateArgumentError('key', key, 'must be a string');
    const cost = options.cost ?? 1;
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
      throw new FlowgateArgumentError('cost', cost, 'must be a finite number >= 0');
    }
    const policy = this.policy;
    if (this.closed) return this.rejected(rejectedDecision(policy, key, cost, 0, 'closed', 0, 0));
    if (cost > policy.burst) {
      return this.rejected(rejectedDecision(policy, key, cost, await this.store.peek(policy, key), 'cost-exceeds-burst', 0, 0));
    }
    if (options.signal?.aborted) return this.rejected(rejectedDecision(policy, key, cost, await this.store.peek(policy, key), 'aborted', 0, 0));
    if (this.queue === undefined) {
      const result = await this.store.take(policy, key, cost);
      if (result.taken) return this.admitted(admittedDecision(policy, key, cost, result.tokens, 0));
      const retryAfterMs = Math.max(msUntilFits(result.tokens, cost, policy), result.retryAfterMs ?? 0);
      return this.rejected(rejectedDecision(policy, key, cost, result.tokens, result.reason ?? 'limited', retryAfterMs, 0));
    }
    return this.fromQueue(key, cost, await this.queue.take(key, cost, options.signal));
  }

  /**
   * The synchronous fast path of {@link take}, for adapters: a decision when one can be made now
   * (the store answers synchronously and the take need not wait in the queue), else `undefined`,
   * and nothing was taken: call {@link take} then. Throws on a bad key or cost, like `take`.
   */
  tryTakeSync(key: string, cost = 1): Decision | undefined {
    const store = this.store;
    if (store.takeSync === undefined || this.closed) return undefined;
    if (typeof key !== 'string') throw new FlowgateArgumentError('key', key, 'must be a string');
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
      throw new FlowgateArgumentError('cost', cost, 'must be a finite number >= 0');
    }
    const policy = this.policy;
    if (cost > policy.burst) return undefined;
    const queue = this.queue;
    if (queue !== undefined && !queue.idle(key)) return undefined;
    const result = store.takeSync(policy, key, cost);
    if (result === undefined) return undefined;
    if (result.taken) return this.admitted(admittedDecision(policy, key, cost, result.tokens, 0));
    if (queue !== undefined || result.reason !== undefined) return undefined;
    const retryAfterMs = Math.max(msUntilFits(result.tokens, cost, policy), result.retryAfterMs ?? 0);
    return this.rejected(rejectedDecision(policy, key, cost, result.tokens, 'limited', retryAfterMs, 0));
  }

  /** Reports the bucket of `key` without taking anything. */
  async peek(key: string): Promise<KeyState> {
    const tokens = await this.store.peek(this.policy, key);
    return {
      key,
      limit: this.policy.burst,
      remaining: Math.max(0, Math.floor(tokens + 1e-9)),
      resetMs: msUntilFull(tokens, this.policy),
      queued: this.queue?.size(key) ?? 0,
    };
  }

  /**
   * Gives back `cost` tokens that an admitted take did not use (capped at burst): for example when a
   * request passed this limit but a second limit on the same route rejected it.
   */
  async refund(key: string, cost = 1): Promise<void> {
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
      throw new FlowgateArgumentError('cost', cost, 'must be a finite number >= 0');
    }
    await this.store.refund(this.policy, key, cost);
    this.queue?.wake(key);
  }

  /** Makes the bucket of `key` full again; takes waiting for it are served at once. */
  async reset(key: string): Promise<void> {
    await this.store.reset(this.policy, key);
    this.queue?.wake(key);
  }

  /**
   * Stops the limiter: waiting takes are answered with reason `'closed'`, later takes are rejected
   * the same way, and the store is closed when the limiter created it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unforward();
    this.queue?.close();
    if (this.ownsStore) await this.store.close();
  }

  /** A store that can reserve gets the cluster-wide queue; any other store, the local one. */
  private createQueue(limits: QueueLimits): TakeQueue {
    const observer: QueueObserver = {
      enqueued: (key, cost, position, queueSize, predictedWaitMs) => this.emit('enqueue', { key, cost, position, queueSize, predictedWaitMs }),
      dequeued: (key, cost, waitedMs) => this.emit('dequeue', { key, cost, waitedMs }),
      timedOut: (key, cost, waitedMs) => this.emit('timeout', { key, cost, waitedMs }),
      aborted: (key, cost, waitedMs) => this.emit('abort', { key, cost, waitedMs }),
    };
    const { store } = this;
    if (store.reserve !== undefined && store.cancel !== undefined) {
      return new ReservationQueue(store as Store & Required<Pick<Store, 'reserve' | 'cancel'>>, this.policy, limits, this.clock, observer);
    }
    return new OverflowQueue(store, this.policy, limits, this.clock, observer);
  }

  private fromQueue(key: string, cost: number, outcome: QueueOutcome): Decision {
    if (outcome.admitted) return this.admitted(admittedDecision(this.policy, key, cost, outcome.tokens, outcome.waitedMs));
    return this.rejected(rejectedDecision(this.policy, key, cost, outcome.tokens, outcome.reason, outcome.retryAfterMs, outcome.waitedMs));
  }

  private admitted(decision: Decision): Decision {
    if (this.listenerCount('admit') > 0) {
      this.emit('admit', { key: decision.key, cost: decision.cost, remaining: decision.remaining, waitedMs: decision.waitedMs });
    }
    return decision;
  }

  private rejected(decision: Decision): Decision {
    if (this.listenerCount('reject') > 0) {
      const { key, cost, retryAfterMs, waitedMs } = decision;
      this.emit('reject', { key, cost, reason: decision.reason as RejectReason, retryAfterMs, waitedMs });
    }
    return decision;
  }
}

// Typed event methods: `limiter.on('reject', (e) => e.reason)`.
export interface Limiter {
  on<E extends LimiterEventName>(event: E, listener: (payload: LimiterEvents[E]) => void): this;
  once<E extends LimiterEventName>(event: E, listener: (payload: LimiterEvents[E]) => void): this;
  off<E extends LimiterEventName>(event: E, listener: (payload: LimiterEvents[E]) => void): this;
  emit<E extends LimiterEventName>(event: E, payload: LimiterEvents[E]): boolean;
}

/** Re-emits a shared store's `degraded` and `recovered` events on the limiter; returns the undo. */
function forwardStoreEvents(store: Store, limiter: Limiter): () => void {
  const emitter = store as Partial<Pick<EventEmitter, 'on' | 'off'>>;
  if (typeof emitter.on !== 'function' || typeof emitter.off !== 'function') return () => undefined;
  const degraded = (payload: LimiterEvents['degraded']): void => void limiter.emit('degraded', payload);
  const recovered = (payload: LimiterEvents['recovered']): void => void limiter.emit('recovered', payload);
  emitter.on.call(store, 'degraded', degraded);
  emitter.on.call(store, 'recovered', recovered);
  return () => {
    emitter.off?.call(store, 'degraded', degraded);
    emitter.off?.call(store, 'recovered', recovered);
  };
}

/**
 * Creates a {@link Limiter}. Every option is validated here: a bad one throws
 * {@link FlowgateConfigError} naming the option, the value and what is allowed.
 *
 * @example
 * const limiter = createLimiter({ rate: 10, interval: '1s', burst: 20, queue: { maxSize: 50, maxWait: '5s' } });
 * const decision = await limiter.take('user:42');
 */
export function createLimiter(options: LimiterOptions): Limiter {
  return new Limiter(options);
}
