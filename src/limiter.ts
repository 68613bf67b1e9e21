// The Limiter: validates a take, asks the store (directly or through the overflow queue), and decides.

import { EventEmitter } from 'node:events';
import { monotonicClock, type Clock } from './clock.js';
import { admittedDecision, rejectedDecision, shadowDecision, type Decision } from './decision.js';
import { FlowgateArgumentError } from './errors.js';
import type { LimiterEventName, LimiterEvents } from './limiter-events.js';
import type { RejectReason } from './decision.js';
import { resolveLimiterOptions, type LimiterOptions } from './limiter-options.js';
import { claimLimiterName } from './limiter-names.js';
import { MemoryStore } from './memory-store.js';
import { OverflowQueue } from './overflow-queue.js';
import { ReservationQueue } from './reservation-queue.js';
import type { QueueLimits, QueueObserver, QueueOutcome, QueueStats, TakeQueue } from './take-queue.js';
import { bucketPolicy, type BucketPolicy } from './policy.js';
import { applyPolicyUpdate, samePolicy, type PolicyUpdate, type PublishedPolicy, type VersionedPolicy } from './policy-update.js';
import type { LimiterProbe, Store, StoreTakeResult } from './store.js';
import { msUntilFits, msUntilFull } from './token-bucket.js';
import { brand } from './brand.js';

/** Options of one {@link Limiter.take}. */
export interface TakeOptions {
  /** Tokens this request costs. A finite number >= 0; default 1. */
  cost?: number;
  /** Aborting it (for example when the client disconnects) removes the take from the queue. */
  signal?: AbortSignal;
  /**
   * In the overflow queue, takes of a higher priority are served first, FIFO within a priority.
   * A finite number; default 0. Waiting raises a take's rank by one level per second, so lower
   * priorities are never starved for ever (see the README's "Priorities").
   */
  priority?: number;
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

/** The dry-run queue's observer: its placeholders are no waiters, so no queue event is emitted. */
const SILENT: QueueObserver = { enqueued: () => undefined, dequeued: () => undefined, timedOut: () => undefined, aborted: () => undefined };

/**
 * A token-bucket rate limiter with an optional overflow queue. Create one with {@link createLimiter}.
 *
 * Emits the events of {@link LimiterEvents}: `admit`, `reject`, `enqueue`, `dequeue`, `timeout`, `abort`.
 */
export class Limiter extends EventEmitter {
  /** Shadow mode (the `dryRun` option): nothing is rejected or delayed; would-be rejections are marked. */
  readonly dryRun: boolean;
  private current: BucketPolicy;
  /** The policy and queue bounds of the options, in force while no policy is published. */
  private readonly configured: { readonly policy: BucketPolicy; readonly queue: QueueLimits | undefined };
  /** Queue bounds in force; `undefined`: takes over the limit do not wait. */
  private queueLimits: QueueLimits | undefined;
  private published: VersionedPolicy | undefined;
  private readonly store: Store;
  private readonly ownsStore: boolean;
  private readonly clock: Clock;
  /** Made with the first queue bounds (from the options or a published policy); kept to answer its waiters. */
  private queue: TakeQueue | undefined;
  /** In dry-run with a queue: the would-be waiters, answered at once but holding their places (an {@link OverflowQueue} of placeholders). */
  private shadow: OverflowQueue | undefined;
  private closed = false;
  /**
   * With a shared store, until it first tells the published policy (or `policyWaitMs` passed):
   * takes wait for it, so a limiter made after a change does not decide by its own options first.
   */
  private policyHeard: { readonly promise: Promise<void>; readonly done: () => void } | undefined;
  private readonly unforward: () => void;
  private readonly unwatch: () => void;
  /** Gives up this limiter's name on a shared store (see claimLimiterName). */
  private readonly releaseName: () => void;

  /** Use {@link createLimiter}, which validates the options. */
  constructor(options: LimiterOptions) {
    super();
    const resolved = resolveLimiterOptions(options);
    this.current = resolved.policy;
    this.configured = { policy: resolved.policy, queue: resolved.queue };
    this.dryRun = resolved.dryRun;
    this.clock = resolved.clock ?? monotonicClock;
    this.ownsStore = resolved.store === undefined;
    this.store = resolved.store ?? new MemoryStore({ clock: this.clock });
    // Before anything is attached to the store: a refusal or a clash throws with nothing to undo.
    this.store.checkLimiter?.(resolved.policy);
    this.releaseName = this.ownsStore ? noop : claimLimiterName(this.store, resolved.policy);
    this.queueLimits = resolved.queue;
    this.queue = resolved.queue === undefined ? undefined : this.createQueue(resolved.queue);
    this.unforward = forwardStoreEvents(this.store, this);
    // A shared store tells every process of a published policy (now, and on each change).
    const policyWaitMs = this.store.policyWaitMs ?? 1000;
    if (this.store.watchPolicy !== undefined && policyWaitMs > 0) this.policyHeard = waitForPolicy(policyWaitMs, () => (this.policyHeard = undefined));
    const unwatch = this.store.watchPolicy?.(resolved.policy.name, (published) => {
      this.apply(published);
      this.policyHeard?.done();
    });
    const detach = this.store.attachLimiter?.(resolved.policy.name, () => this.probe());
    this.unwatch = () => {
      unwatch?.();
      detach?.();
    };
  }

  /** Takes waiting in this process's queue now (all keys), and the longest wait so far in ms. */
  queueStats(): QueueStats {
    return this.queue?.stats() ?? { waiting: 0, oldestWaitMs: 0 };
  }

  /** The bucket policy in force: from the options, or the published one after a live change. */
  get policy(): BucketPolicy {
    return this.current;
  }

  /** Whether takes over the limit may wait now (the `queue` option, or a published policy's). */
  get queueing(): boolean {
    return this.queueLimits !== undefined;
  }

  /** The queue's settings in force (`maxSize`, `maxWaitMs`, `batchWindowMs`, `priorities`, `orderGraceMs`), or `undefined` without a queue. */
  get queueSettings(): QueueLimits | undefined {
    return this.queueLimits;
  }

  /** The version of the published policy in force, or `undefined` while the options' policy is. */
  get policyVersion(): number | undefined {
    return this.published?.version;
  }

  /** The limiter's name (the policy name in headers). */
  get name(): string {
    return this.current.name;
  }

  /**
   * Changes rate, interval, burst or queue bounds at run time. With a shared store (ZooKeeper) the
   * change is published to every process of the cluster, which pick it up through a watch; with
   * the memory store it applies to this limiter. Resolves with the policy now in force and its
   * version; a bad value throws {@link FlowgateConfigError} naming it, and nothing changes.
   */
  async setPolicy(update: PolicyUpdate): Promise<VersionedPolicy> {
    const base = this.shape();
    const queueDefaults = this.queueLimits === undefined ? undefined : { maxSize: this.queueLimits.maxSize, maxWaitMs: this.queueLimits.maxWaitMs };
    const next = applyPolicyUpdate(base, update, queueDefaults);
    if (this.store.publishPolicy !== undefined) {
      const published = await this.store.publishPolicy(this.current.name, update, base, queueDefaults);
      // The watch may already have brought a later change: never go back to an older version.
      if (published.version >= (this.published?.version ?? -1)) this.apply(published);
      return published;
    }
    const local: VersionedPolicy = { ...next, version: (this.published?.version ?? -1) + 1 };
    this.apply(local);
    return local;
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
    if (options.priority !== undefined && (typeof options.priority !== 'number' || !Number.isFinite(options.priority))) {
      throw new FlowgateArgumentError('priority', options.priority, 'must be a finite number');
    }
    if (this.policyHeard !== undefined) await this.policyHeard.promise;
    const policy = this.current;
    if (this.closed) return this.rejected(rejectedDecision(policy, key, cost, 0, 'closed', 0, 0));
    if (cost > policy.burst) {
      const tokens = await this.store.peek(policy, key);
      if (this.dryRun) return this.admitted(shadowDecision(policy, key, cost, tokens, 'cost-exceeds-burst'));
      return this.rejected(rejectedDecision(policy, key, cost, tokens, 'cost-exceeds-burst', 0, 0));
    }
    if (options.signal?.aborted) return this.rejected(rejectedDecision(policy, key, cost, await this.store.peek(policy, key), 'aborted', 0, 0));
    if (this.dryRun) return this.shadowTake(policy, key, cost);
    const queue = this.queueLimits === undefined ? undefined : this.queue;
    if (queue === undefined) {
      // A queue turned off by a live change still holds the takes that were waiting in it: a new
      // take does not go ahead of them (it is refused, with the time the line ahead needs).
      const left = this.queue;
      if (left !== undefined && left.size(key) > 0) {
        const tokens = await this.store.peek(policy, key);
        const retryAfterMs = Math.max(0, (left.queuedCost(key) + cost - tokens) / policy.ratePerMs);
        return this.rejected(rejectedDecision(policy, key, cost, tokens, 'limited', retryAfterMs, 0));
      }
      const result = await this.store.take(policy, key, cost);
      if (result.taken) return this.admitted(admittedDecision(policy, key, cost, result.tokens, 0));
      return this.overLimit(policy, key, cost, result);
    }
    const outcome = await queue.take(key, cost, options.signal, options.priority);
    // Decided by the policy in force when the wait ended (a live change may have come meanwhile).
    return this.fromQueue(this.current, key, cost, outcome);
  }

  /**
   * The synchronous fast path of {@link take}, for adapters: a decision when one can be made now
   * (the store answers synchronously and the take need not wait in the queue), else `undefined`,
   * and nothing was taken: call {@link take} then. Throws on a bad key or cost, like `take`.
   */
  tryTakeSync(key: string, cost = 1): Decision | undefined {
    const store = this.store;
    if (store.takeSync === undefined || this.closed || this.policyHeard !== undefined) return undefined;
    if (typeof key !== 'string') throw new FlowgateArgumentError('key', key, 'must be a string');
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
      throw new FlowgateArgumentError('cost', cost, 'must be a finite number >= 0');
    }
    const policy = this.current;
    if (cost > policy.burst || this.dryRun) return undefined;
    const queue = this.queueLimits === undefined ? undefined : this.queue;
    // Takes still waiting (in a queue in force, or one turned off since) go first: see take(). A
    // queue turned off counts only its waiters: the lines it keeps a while after them are no wait.
    if (this.queue !== undefined && (queue !== undefined ? !queue.idle(key) : this.queue.size(key) > 0)) return undefined;
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
    this.shadow?.wake(key);
  }

  /**
   * Makes the bucket of `key` full again; takes waiting for it in this process's queue are served
   * at once, as the full bucket allows. With a store that reserves (the ZooKeeper store), the takes
   * waiting in every process are booked in the shared bucket: the reset keeps them there and pays
   * them from the full burst first, in their order (as many as the burst covers are served at once),
   * and the takes that come next queue behind them.
   */
  async reset(key: string): Promise<void> {
    await this.store.reset(this.policy, key);
    this.queue?.wake(key);
    this.shadow?.wake(key);
  }

  /**
   * Stops the limiter: waiting takes are answered with reason `'closed'`, later takes are rejected
   * the same way, and the store is closed when the limiter created it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.policyHeard?.done();
    this.releaseName();
    this.unwatch();
    this.unforward();
    this.queue?.close();
    this.shadow?.close();
    if (this.ownsStore) await this.store.close();
  }

  /** A store that can reserve gets the cluster-wide queue; any other store, the local one. */
  private createQueue(limits: QueueLimits): TakeQueue {
    const observer: QueueObserver = {
      enqueued: (key, cost, position, queueSize, predictedWaitMs) => this.emitFromQueue('enqueue', { key, cost, position, queueSize, predictedWaitMs }),
      dequeued: (key, cost, waitedMs) => this.emitFromQueue('dequeue', { key, cost, waitedMs }),
      timedOut: (key, cost, waitedMs) => this.emitFromQueue('timeout', { key, cost, waitedMs }),
      aborted: (key, cost, waitedMs) => this.emitFromQueue('abort', { key, cost, waitedMs }),
    };
    const { store } = this;
    if (store.reserve !== undefined && store.cancel !== undefined) {
      return new ReservationQueue(store as Store & Required<Pick<Store, 'reserve' | 'cancel'>>, this.policy, limits, this.clock, observer);
    }
    return new OverflowQueue(store, this.policy, limits, this.clock, observer);
  }


  /**
   * Emits a queue event from inside the queue's own work (a timer, an abort, a booking's return):
   * a listener that throws must not leave the queue half way through it, with a waiter never
   * answered. Its error is reported as an event listener's is, on the next tick.
   */
  private emitFromQueue<E extends 'enqueue' | 'dequeue' | 'timeout' | 'abort'>(event: E, payload: LimiterEvents[E]): void {
    try {
      this.emit(event, payload);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }

  private fromQueue(policy: BucketPolicy, key: string, cost: number, outcome: QueueOutcome): Decision {
    if (outcome.admitted) return this.admitted(admittedDecision(policy, key, cost, outcome.tokens, outcome.waitedMs));
    return this.rejected(rejectedDecision(policy, key, cost, outcome.tokens, outcome.reason, outcome.retryAfterMs, outcome.waitedMs));
  }

  /** A take the store refused, with no queue: rejected. */
  private overLimit(policy: BucketPolicy, key: string, cost: number, result: StoreTakeResult): Decision {
    const retryAfterMs = Math.max(msUntilFits(result.tokens, cost, policy), result.retryAfterMs ?? 0);
    return this.rejected(rejectedDecision(policy, key, cost, result.tokens, result.reason ?? 'limited', retryAfterMs, 0));
  }

  /**
   * A take in dry-run: admitted at once, marked with what enforcement would have done. With a queue,
   * the shadow line decides it as the overflow queue would: a take that would have waited holds its
   * place (the tokens it would have waited for are taken at its would-be due time), so the takes
   * behind it see the longer wait, and are marked `'limited'` beyond `maxWait`, `'queue-full'`
   * beyond `maxSize` would-be waiters.
   */
  private async shadowTake(policy: BucketPolicy, key: string, cost: number): Promise<Decision> {
    if (this.queueLimits !== undefined) {
      this.shadow ??= new OverflowQueue(this.store, this.current, this.queueLimits, this.clock, SILENT, true);
      const outcome = await this.shadow.take(key, cost);
      // Decided by the policy in force when the line answered (a live change may have come meanwhile).
      const decidedBy = this.current;
      if (outcome.admitted) return this.admitted(shadowDecision(decidedBy, key, cost, outcome.tokens, undefined));
      if (outcome.reason === 'closed') return this.rejected(rejectedDecision(decidedBy, key, cost, outcome.tokens, 'closed', 0, 0));
      return this.admitted(shadowDecision(decidedBy, key, cost, outcome.tokens, outcome.reason));
    }
    // A queue turned off by a live change: would-be waiters still in the shadow line go first (see take()).
    if (this.shadow !== undefined && !this.shadow.idle(key)) {
      return this.admitted(shadowDecision(policy, key, cost, await this.store.peek(policy, key), 'limited'));
    }
    const result = await this.store.take(policy, key, cost);
    return this.admitted(shadowDecision(policy, key, cost, result.tokens, result.taken ? undefined : (result.reason ?? 'limited')));
  }

  private probe(): LimiterProbe {
    const { waiting, oldestWaitMs } = this.queueStats();
    const { rate, intervalMs, burst, strict } = this.current;
    return { queued: waiting, oldestWaitMs, policyVersion: this.published?.version ?? null, rate, intervalMs, burst, strict };
  }

  /** The figures in force, as a published policy (the base a {@link setPolicy} update applies over when none is published). */
  private shape(): PublishedPolicy {
    const { rate, intervalMs, burst } = this.current;
    // The queue is part of the published policy only once an update set it: an update that does
    // not mention it leaves every process's own queue option alone.
    const queue = this.published?.queue;
    return queue === undefined ? { rate, intervalMs, burst } : { rate, intervalMs, burst, queue };
  }

  /** Puts a published policy in force (or the options' again when `published` is undefined). */
  private apply(published: VersionedPolicy | undefined): void {
    if (this.closed) return;
    if (samePolicy(published, this.published)) return;
    const { policy: own, queue: ownQueue } = this.configured;
    this.published = published;
    const previous = this.current;
    this.current = published === undefined ? own : bucketPolicy(own.name, published.rate, published.intervalMs, published.burst, own.strict);
    // The refill until now counts at the rate it was earned at: a store that refills by the policy it is given settles first.
    this.store.policyChanged?.(previous, this.current);
    // A published queue changes its bounds; the batching window, priorities and order grace stay the options' (not part of a policy).
    this.queueLimits =
      published === undefined || published.queue === undefined
        ? ownQueue
        : published.queue === false
          ? undefined
          : {
              ...published.queue,
              ...(ownQueue?.batchWindowMs !== undefined && { batchWindowMs: ownQueue.batchWindowMs }),
              ...(ownQueue?.priorities === true && { priorities: true }),
              ...(ownQueue?.orderGraceMs !== undefined && { orderGraceMs: ownQueue.orderGraceMs }),
            };
    if (this.queueLimits !== undefined && this.queue === undefined) this.queue = this.createQueue(this.queueLimits);
    // A queue turned off keeps its bounds for the takes still waiting in it.
    this.queue?.update(this.current, this.queueLimits ?? ownQueue ?? { maxSize: 0, maxWaitMs: 0 });
    this.shadow?.update(this.current, this.queueLimits ?? ownQueue ?? { maxSize: 0, maxWaitMs: 0 });
    const { rate, intervalMs, burst } = this.current;
    const queue = this.queueLimits;
    this.emit('policy', { version: published?.version, rate, intervalMs, burst, queue: queue === undefined ? false : { maxSize: queue.maxSize, maxWaitMs: queue.maxWaitMs } });
  }

  private admitted(decision: Decision): Decision {
    if (this.listenerCount('admit') > 0) {
      const { key, cost, remaining, waitedMs, wouldReject } = decision;
      this.emit('admit', wouldReject === undefined ? { key, cost, remaining, waitedMs } : { key, cost, remaining, waitedMs, wouldReject });
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

brand(Limiter, 'Limiter');

/**
 * A wait for a limiter's first published policy: `done()` ends it (and runs `ended` once), as does
 * `maxMs` passing (ZooKeeper slow or unreachable: the takes go ahead on the limiter's own options).
 */
function waitForPolicy(maxMs: number, ended: () => void): { readonly promise: Promise<void>; readonly done: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  let over = false;
  const done = (): void => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    ended();
    resolve();
  };
  const timer = setTimeout(done, maxMs);
  timer.unref?.();
  return { promise, done };
}

function noop(): void {
  // nothing to release
}
