// A general distributed FIFO queue on ZooKeeper, with priorities: enqueue, dequeue, size, and lock-safe consumers.

import { randomUUID } from 'node:crypto';
import type { ACL, Stat } from 'node-zookeeper-client';
import { MAX_TIMER_MS, parseDuration, timerDuration, type Duration } from '../../duration.js';
import { FlowgateArgumentError, FlowgateConfigError, FlowgateError } from '../../errors.js';
import { rejectUnknownOptions, requireNumber } from '../../limiter-options.js';
import { failedOpIndex, isUnavailable, ZkCode, zkCode, ZooKeeperSession, ZooKeeperUnavailableError, type TransactionOp } from './zookeeper-session.js';
import { QueueWait } from './queue-wait.js';
import { CreateMarkers, type CarriedMarkers } from './create-markers.js';
import { ZooKeeperStore } from './zookeeper-store.js';
import { nodeName, validateRoot } from './znode-paths.js';
import { ItemListing } from './item-listing.js';
import { itemPrefix, itemTurn, msUntilDue } from './queue-item-names.js';
import { retryDelayOf, retryPlace, type RetryDelay } from './retry-delay.js';
import { decodeEnvelope, deadLetter, envelopeJson, errorText, metaOf, stored, type Envelope } from './queue-envelope.js';
import { eachDeadLetter, listDeadLetters, removeDeadLetter, requeueDeadLetter, type DeadLetter, type DeadLetterPlace } from './dead-letters.js';
import { statTime } from './server-clock.js';
import { hasBrand } from '../../brand.js';

export type { DeadLetter } from './dead-letters.js';

const PERSISTENT_SEQUENTIAL = 2;
const EPHEMERAL = 1;
/** How long close() lets enqueues under way finish (an enqueue whose reply was lost looks for its item). */
const CLOSE_GRACE_MS = 2_000;
/** ZooKeeper refuses znodes over about 1 MB; stay clear of it. */
const MAX_ITEM_BYTES = 1_000_000;
/** Options that only a queue with a session of its own (`connect`) takes: with `store`, the store's own apply. */
const CONNECT_ONLY_OPTIONS = ['root', 'auth', 'callTimeout'] as const;
/** Options of {@link DistributedQueue}. */
export interface DistributedQueueOptions {
  /** The queue's name; queues with the same name (and root) are the same queue. Required. */
  name: string;
  /** Share this store's ZooKeeper session (and its root and credential). Either this or `connect`. */
  store?: ZooKeeperStore;
  /** A ZooKeeper connection string, for a queue with its own session. */
  connect?: string;
  /** With `connect`: the root znode. Default `'/flowgate'`. */
  root?: string;
  /** With `connect`: digest credential `'user:password'`. */
  auth?: string;
  /** The largest item, in bytes of its own JSON (`JSON.stringify(item)`). Default 256 KiB; at most 1,000,000. */
  maxItemBytes?: number;
  /**
   * Deliveries of an item before it moves to the dead-letter queue. Each delivery to a handler
   * counts, also one whose consumer crashed or lost its session before the handler settled. Default 5.
   */
  maxAttempts?: number;
  /**
   * With `connect`: how long one ZooKeeper call may take before it counts as a connection loss, and
   * how long `tryDequeue()` waits for an unreachable ZooKeeper. Default `'1s'` (with `store`, the
   * store's `unavailableAfter`).
   */
  callTimeout?: Duration;
  /** How often an idle consumer looks for items whose consumer died: from 50 ms to 2147483647 ms (Node's longest timer). Default `'1s'`. */
  pollInterval?: Duration;
  /**
   * How long an item whose handler threw waits before its next delivery: a duration, or a function
   * of the failed delivery's number (1 for the first) and the error, e.g.
   * `(attempt) => 1000 * 2 ** (attempt - 1)`. Default 0 (at once, at the tail). A delayed item
   * still counts in `size()`; `dequeue()` and consumers take it once it is due.
   */
  retryDelay?: RetryDelay;
}

/** Options of {@link DistributedQueue.enqueue}. */
export interface EnqueueOptions {
  /**
   * Higher goes first (default 0): each level counts as 1 s of waiting, so a priority-2 item goes
   * ahead of priority-0 items enqueued less than 2 s before it, and behind older ones (nothing is
   * starved). Any finite number; negative ones go behind.
   */
  priority?: number;
}

/** Options of {@link DistributedQueue.dequeue}. */
export interface DequeueOptions {
  /**
   * Give up after this long, whether the queue stays empty or ZooKeeper cannot be reached: the
   * promise rejects with code `ERR_FLOWGATE_QUEUE_TIMEOUT`. ZooKeeper is given at least
   * `callTimeout` (one call's time), so a short timeout still takes an item that is there.
   * Default: wait for ever.
   */
  timeout?: Duration;
  /** Aborting it stops waiting (also for an unreachable ZooKeeper): the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What a consumer's handler is told besides the item. */
export interface DeliveryInfo {
  /** The item's znode name: stable across redeliveries of the same copy; a failed delivery puts it back as a new copy. */
  readonly id: string;
  /**
   * The id of the item's first copy (the node `enqueue()` made, whose name it resolved with), the
   * same over every retry and after `requeueDeadLetters()`: a key for handlers that must be idempotent.
   */
  readonly firstId: string;
  /** 1 on the first delivery, 2 on the next (after a failure, or a consumer that stopped mid-item), and so on. */
  readonly attempt: number;
}

/** Options of {@link DistributedQueue.consume}. */
export interface ConsumeOptions {
  /** Items handled at the same time. Default 1. */
  concurrency?: number;
  /**
   * Told of ZooKeeper errors other than a lost connection (which the consumer simply waits out), and
   * of any error that kept an item in hand from being removed or put back (its handler done): that
   * item is delivered again. The consumer goes on after a pause either way; by default the error is
   * written with `console.warn`.
   */
  onError?: (error: unknown) => void;
}

/** Options of {@link QueueConsumer.stop} and {@link DistributedQueue.close}. */
export interface StopOptions {
  /**
   * How long to wait for the handlers still running. Past it, their items are given back (their
   * claims removed) for other consumers to take, and the call resolves; a handler that finishes
   * later changes nothing (its item may then be handled twice: at least once). Default: no limit.
   */
  timeout?: Duration;
}

/** A running {@link DistributedQueue.consume} loop. */
export interface QueueConsumer {
  /** Stops claiming new items and resolves when the items in hand are settled (or given back after `timeout`). */
  stop(options?: StopOptions): Promise<void>;
}

interface Claimed<T> {
  readonly name: string;
  readonly envelope: Envelope<T>;
}

/** A node of the queue is missing (removed by hand): reported with ZooKeeper's own NO_NODE code (-101). */
class MissingQueueNodeError extends Error {
  readonly code = ZkCode.NO_NODE;
  constructor(path: string) {
    super(`flowgate: the queue's node ${path} is missing (NO_NODE)`);
    this.name = 'MissingQueueNodeError';
  }
  getCode(): number {
    return ZkCode.NO_NODE;
  }
}

/**
 * A FIFO queue of JSON items kept in ZooKeeper, shared by any number of producer and consumer
 * processes (Apache Curator's DistributedQueue recipe, lock-safe mode).
 *
 * - Items are persistent sequential znodes: they survive every client restarting and the whole
 *   ensemble restarting. Their sequence gives the order; one producer's items keep its order.
 * - Creates are "protected": the name carries a fresh UUID and the create goes in one multi with an
 *   ephemeral marker of that UUID, so after a connection loss the producer reads the marker to
 *   know whether its item was stored (even if a consumer has already finished it) instead of
 *   creating a second one. No duplicate, nothing lost.
 * - A consumer claims an item with an ephemeral claim node before reading it: an item is never
 *   handed to two consumers at once. Success removes item and claim in one atomic multi. A handler
 *   that throws puts the item back at the tail; after `maxAttempts` deliveries it moves to the
 *   dead-letter queue. A consumer that dies loses its session, its claims vanish, and the item is
 *   delivered again (at least once); deliveries are counted as they start, so an item that kills
 *   its consumers is dead-lettered too.
 * - `size()` reads one Stat (the children count): no listing.
 */
export class DistributedQueue<T = unknown> {
  private readonly session: ZooKeeperSession;
  private readonly ownStore: ZooKeeperStore | undefined;
  private readonly store: ZooKeeperStore;
  private readonly acls: ACL[] | undefined;
  private readonly name: string;
  private readonly items: string;
  private readonly claims: string;
  private readonly dead: string;
  /** Ephemeral markers of this instance's creates, under `<queue>/creating`: see {@link CreateMarkers}. */
  private readonly creating: string;
  private readonly markers: CreateMarkers;
  /** When a closing queue stops waiting for enqueues under way (performance.now()). */
  private closingUntil = Number.POSITIVE_INFINITY;
  private endWaits: (error: Error) => void = () => undefined;
  /** Rejects CLOSE_GRACE_MS after close() began: a wait for ZooKeeper still under way then ends. */
  private readonly closeDeadline = new Promise<never>((_resolve, reject) => (this.endWaits = reject));
  /** Enqueues under way: close() lets them finish (for a bounded time) before it closes the session. */
  private readonly enqueuing = new Set<Promise<string>>();
  /** The waits of the dequeue and tryDequeue calls under way: close() ends them at once. */
  private readonly waits = new Set<QueueWait>();
  private readonly maxItemBytes: number;
  private readonly maxAttempts: number;
  private readonly pollMs: number;
  /** The delay in ms before the next delivery of an item whose handler threw (see the `retryDelay` option). */
  private readonly retryDelay: (attempt: number, error: unknown) => number;
  /** How long one ZooKeeper call may take: how long tryDequeue() waits for an unreachable ZooKeeper. */
  private readonly callTimeoutMs: number;
  private parents: Promise<void> | undefined;
  private readonly consumers = new Set<QueueConsumer>();
  private closed = false;
  /** Written into this instance's claim nodes, so that it knows its own claims after a lost reply. */
  private readonly owner = Buffer.from(randomUUID());
  /**
   * Items this instance holds a claim on right now, with the session their claim was made in:
   * never claimed twice by it.
   */
  private readonly held = new Map<string, number>();
  /** Items a claim multi of this instance is under way for (two callers of one instance never claim one item). */
  private readonly claiming = new Set<string>();
  /**
   * Items a stop past its timeout gave back while their handlers still ran: this instance does not
   * claim them again until those handlers settle, and their outcome is dropped (the item is someone
   * else's by then).
   */
  private readonly givenBack = new Set<string>();
  /** The close under way, once close() was called. */
  private closing: Promise<void> | undefined;
  /**
   * Items whose claim multi lost its reply: the claim may be this instance's. Only for these does
   * an existing claim need reading to tell; any other existing claim is someone else's.
   */
  private readonly uncertainClaims = new Set<string>();
  /** The item list as this instance last saw it, shared by every dequeue and consumer; its one children watch. */
  private readonly listing: ItemListing;
  /** A new session: the listing starts again, and the old session's claims went with it. */
  private readonly onSession = (): void => {
    this.listing.sessionRenewed();
    this.uncertainClaims.clear();
  };
  /** ZooKeeper's clock minus this process's monotonic clock, measured by `ready()`'s write. */
  private serverOffset = 0;

  /** Validates the options (throwing FlowgateConfigError) and uses or opens a ZooKeeper session. */
  constructor(options: DistributedQueueOptions) {
    // Handled here too: at close, nothing may be waiting on it.
    this.closeDeadline.catch(() => undefined);
    if (options === null || typeof options !== 'object') throw new FlowgateConfigError('options', options, "must be an object such as { name: 'jobs', connect: '127.0.0.1:2181' }");
    rejectUnknownOptions(options, ['name', 'store', 'connect', 'root', 'auth', 'maxItemBytes', 'maxAttempts', 'callTimeout', 'pollInterval', 'retryDelay']);
    if (typeof options.name !== 'string' || options.name.length === 0) throw new FlowgateConfigError('name', options.name, 'must be a non-empty string');
    if ((options.store === undefined) === (options.connect === undefined)) {
      throw new FlowgateConfigError(options.store === undefined ? 'connect' : 'store', options.store ?? options.connect, 'give exactly one of `store` (a ZooKeeperStore) and `connect`');
    }
    if (options.store !== undefined && !hasBrand<ZooKeeperStore>(options.store, 'ZooKeeperStore')) throw new FlowgateConfigError('store', options.store, 'must be a ZooKeeperStore');
    if (options.store !== undefined) {
      for (const key of CONNECT_ONLY_OPTIONS) {
        if (options[key] !== undefined) throw new FlowgateConfigError(key, options[key], "applies only with `connect`: a queue on a `store` uses the store's root, auth and unavailableAfter");
      }
    }
    this.maxItemBytes = requireNumber('maxItemBytes', options.maxItemBytes ?? 256 * 1024, { integer: true, min: 1, minInclusive: true });
    if (this.maxItemBytes > MAX_ITEM_BYTES) throw new FlowgateConfigError('maxItemBytes', options.maxItemBytes, `must be at most ${MAX_ITEM_BYTES} (ZooKeeper's znode limit)`);
    this.maxAttempts = requireNumber('maxAttempts', options.maxAttempts ?? 5, { integer: true, min: 1, minInclusive: true });
    // A longer timer than Node's longest fires after 1 ms: the consumers would list the queue without pause.
    this.pollMs = timerDuration(parseDuration(options.pollInterval ?? '1s', 'pollInterval', { ms: 50, why: 'each poll lists the queue' }), 'pollInterval', options.pollInterval);
    this.retryDelay = retryDelayOf(options.retryDelay);
    const callTimeoutMs = timerDuration(parseDuration(options.callTimeout ?? '1s', 'callTimeout', { ms: 50 }), 'callTimeout', options.callTimeout);
    if (options.store !== undefined) {
      this.store = options.store;
    } else {
      const root = validateRoot(options.root ?? '/flowgate');
      // A queue's own session takes no rate-limit decisions: it does not count among the members sharing the limits.
      this.ownStore = new ZooKeeperStore({ connect: options.connect as string, root, auth: options.auth, unavailableAfter: callTimeoutMs, countAsMember: false });
      this.store = this.ownStore;
    }
    const { session, root, acls, unavailableAfterMs } = this.store.connection();
    this.callTimeoutMs = unavailableAfterMs;
    this.session = session;
    this.acls = acls;
    this.name = options.name;
    const base = `${root}/queues/${nodeName(options.name)}`;
    this.items = `${base}/items`;
    this.claims = `${base}/claims`;
    this.dead = `${base}/dead`;
    this.creating = `${base}/creating`;
    this.markers = new CreateMarkers(this.session, this.creating, this.acls);
    this.listing = new ItemListing(this.session, this.items, () => this.closed, (names) => this.forgetFinished(names));
    this.session.on('session', this.onSession);
  }

  /**
   * Adds an item: at the tail, or with `priority` ahead of lower-priority items enqueued less than
   * `priority` seconds before it (see {@link EnqueueOptions}). Resolves with its id (its node's
   * name) once it is stored; after a lost reply, when a consumer has finished the item already,
   * with the name's protected prefix (`_c_<uuid>-t<turn>-item-`, without ZooKeeper's sequence).
   */
  async enqueue(item: T, options: EnqueueOptions = {}): Promise<string> {
    if (this.closed) throw queueClosed();
    if (options === null || typeof options !== 'object') throw new FlowgateArgumentError('options', options, 'must be an object such as { priority: 1 }');
    rejectUnknownOptions(options, ['priority']);
    const priority = options.priority ?? 0;
    if (typeof priority !== 'number' || !Number.isFinite(priority)) throw new FlowgateArgumentError('priority', priority, 'must be a finite number');
    const data = stored(envelopeJson(this.itemJson(item), { attempts: 0, ...(priority !== 0 && { priority }) }));
    // Tracked from here (close() lets it finish), the wait for the queue's parents included.
    const enqueued = this.ready().then(() => this.protectedCreate(this.items, data, itemTurn(this.serverNow(), priority)));
    this.enqueuing.add(enqueued);
    try {
      return await enqueued;
    } finally {
      this.enqueuing.delete(enqueued);
    }
  }

  /**
   * When the listing holds only items waiting out a retry delay: how long until the first of them
   * is due. 0 when it holds an item due now, or none.
   */
  private msUntilFirstDue(): number {
    const now = this.serverNow();
    let least = Infinity;
    for (const name of this.listing.names) {
      least = Math.min(least, msUntilDue(name, now));
      if (least === 0) return 0;
    }
    return least === Infinity ? 0 : least;
  }

  /** ZooKeeper's clock now, from the offset measured when the queue got ready (monotonic in between). */
  private serverNow(): number {
    return performance.now() + this.serverOffset;
  }

  /**
   * Removes and returns the head item, or `undefined` when the queue is empty. While ZooKeeper
   * cannot be reached it gives up after about `callTimeout`, with code `ERR_FLOWGATE_ZK_UNAVAILABLE`;
   * `close()` ends it at once with `ERR_FLOWGATE_CLOSED`.
   */
  async tryDequeue(): Promise<T | undefined> {
    if (this.closed) throw queueClosed();
    const ms = this.callTimeoutMs;
    const wait = this.newWait(performance.now() + ms, undefined, () => new ZooKeeperUnavailableError(`flowgate: ZooKeeper could not be reached within callTimeout (${ms} ms)`));
    try {
      return await this.takeHead(wait);
    } catch (error) {
      throw this.closed && isUnavailable(error) ? queueClosed() : error;
    } finally {
      this.endWait(wait);
    }
  }

  /**
   * Claims, reads and removes the head item, retrying connection losses until `wait` ends (it
   * rejects then with `wait`'s error, or the abort's reason). An item claimed is finished even past it.
   */
  private async takeHead(wait: QueueWait): Promise<T | undefined> {
    await this.ready(wait);
    const claimed = await this.retrying(() => wait.race(this.claimFirst(), (claiming) => this.giveBack(claiming)), wait);
    if (claimed === undefined) return undefined;
    // The item is claimed and read: finishing it may be retried, never restarted with another item.
    let settled = false;
    try {
      await this.retrying(() => this.complete(claimed.name), QueueWait.until(Math.max(wait.deadline, performance.now() + 30_000), unreachable));
      settled = true;
    } finally {
      this.release(claimed.name, settled);
    }
    return claimed.envelope.item;
  }

  /**
   * Removes and returns the head item, waiting for one when the queue is empty (and for ZooKeeper
   * while it cannot be reached) until `timeout` (code `ERR_FLOWGATE_QUEUE_TIMEOUT`) or until
   * `signal` aborts (its reason). `close()` ends it at once with `ERR_FLOWGATE_CLOSED`.
   */
  async dequeue(options: DequeueOptions = {}): Promise<T> {
    if (this.closed) throw queueClosed();
    if (options === null || typeof options !== 'object') throw new FlowgateArgumentError('options', options, "must be an object such as { timeout: '5s' }");
    rejectUnknownOptions(options, ['timeout', 'signal']);
    if (options.signal !== undefined && !isAbortSignal(options.signal)) throw new FlowgateArgumentError('signal', options.signal, 'must be an AbortSignal');
    const timeoutMs = options.timeout === undefined ? Infinity : parseDuration(options.timeout, 'timeout');
    const noItem = (): Error => new FlowgateError('ERR_FLOWGATE_QUEUE_TIMEOUT', `flowgate: no item within ${timeoutMs} ms`);
    const deadline = performance.now() + timeoutMs;
    // ZooKeeper is waited for until the deadline, but at least one call's time (a short timeout
    // still takes an item that is there); a wait cut there rejects as unreachable, and the loop
    // then tells the timeout.
    const wait = this.newWait(Math.max(deadline, performance.now() + this.callTimeoutMs), options.signal, unreachable);
    try {
      for (;;) {
        wait.throwIfAborted();
        let item: T | undefined;
        try {
          item = await this.takeHead(wait);
        } catch (error) {
          if (!isUnavailable(error)) throw error;
          // The session closed under a call of a queue being closed.
          wait.throwIfAborted();
        }
        if (item !== undefined) return item;
        const left = deadline - performance.now();
        if (left <= 0) throw noItem();
        const notDueMs = this.msUntilFirstDue();
        await this.listing.changeOrTimeout(Math.min(left, this.pollMs, notDueMs > 0 ? notDueMs : Infinity), wait.signal);
      }
    } finally {
      this.endWait(wait);
    }
  }

  /** The head item without removing it, or `undefined` when the queue is empty. Like {@link size}, it counts an item a consumer is processing: that item may be the head. */
  peek(): Promise<T | undefined> {
    return this.whileOpen(async () => {
      await this.ready();
      for (const name of [...(await this.listing.candidates(true)).names]) {
        try {
          const { data } = await this.session.getData(`${this.items}/${name}`);
          return decodeEnvelope<T>(data).item;
        } catch (error) {
          if (zkCode(error) !== ZkCode.NO_NODE) throw error;
        }
      }
      return undefined;
    });
  }

  /** Items in the queue, including those a consumer is processing. One read: no listing. */
  size(): Promise<number> {
    return this.whileOpen(async () => {
      await this.ready();
      const stat = await this.session.exists(this.items);
      return stat?.numChildren ?? 0;
    });
  }

  /** Items moved to the dead-letter queue after `maxAttempts` deliveries, oldest first. */
  deadLetters(): Promise<Array<DeadLetter<T>>> {
    return this.whileOpen(async () => {
      await this.ready();
      return listDeadLetters<T>(this.deadLetterPlace);
    });
  }

  /**
   * Moves dead letters back to the tail of the queue (after the cause is fixed): all of them, or
   * those whose `id` is in `ids`. Each goes back as if enqueued now, with its priority, its
   * deliveries counted from 0 again, in one multi (the item created, the dead letter removed).
   * Resolves with how many this call moved: one moved or removed meanwhile by someone else (or by
   * this call, when a reply was lost) is not counted.
   */
  requeueDeadLetters(ids?: readonly string[]): Promise<number> {
    return this.onDeadLetters('requeueDeadLetters', ids, (name) => requeueDeadLetter(this.deadLetterPlace, name));
  }

  /** Deletes dead letters for good: all of them, or those whose `id` is in `ids`. Resolves with how many this call removed. */
  removeDeadLetters(ids?: readonly string[]): Promise<number> {
    return this.onDeadLetters('removeDeadLetters', ids, (name) => removeDeadLetter(this.deadLetterPlace, name));
  }

  /** Runs `work` on each dead letter named in `ids` (all when omitted), oldest first, retrying lost connections; counts those it did. */
  private async onDeadLetters(call: string, ids: readonly string[] | undefined, work: (name: string) => Promise<unknown>): Promise<number> {
    if (ids !== undefined && (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string'))) {
      throw new FlowgateArgumentError('ids', ids, `${call}() takes an array of dead-letter ids (DeadLetter.id), or nothing for all`);
    }
    return this.whileOpen(async () => {
      await this.ready();
      return eachDeadLetter(this.deadLetterPlace, ids, work, (attempt) => this.retrying(attempt));
    });
  }

  /** Where this queue's dead letters are, for the functions of dead-letters.ts. */
  private get deadLetterPlace(): DeadLetterPlace {
    return { session: this.session, items: this.items, dead: this.dead, acls: this.acls, serverNow: () => this.serverNow() };
  }

  /**
   * Runs `work` on an open queue: rejects with `ERR_FLOWGATE_CLOSED` when the queue is closed, or
   * is closed while `work` waits for ZooKeeper.
   */
  private async whileOpen<R>(work: () => Promise<R>): Promise<R> {
    if (this.closed) throw queueClosed();
    try {
      return await work();
    } catch (error) {
      throw this.closed && isUnavailable(error) ? queueClosed() : error;
    }
  }

  /** A wait of a dequeue or tryDequeue under way, which close() ends. */
  private newWait(deadline: number, signal: AbortSignal | undefined, expired: () => Error): QueueWait {
    const wait = new QueueWait(deadline, signal, expired);
    this.waits.add(wait);
    return wait;
  }

  private endWait(wait: QueueWait): void {
    this.waits.delete(wait);
    wait.dispose();
  }

  /**
   * A claim attempt a call stopped waiting for (its deadline passed, it was aborted, the queue was
   * closed): an item it claims all the same is handed back at once, for the next taker. Not waited
   * for by close(): a queue's own session takes its claims with it, and a store's session lives on
   * to remove them.
   */
  private giveBack(claiming: Promise<Claimed<T> | undefined>): void {
    claiming.then(
      (claimed) => (claimed === undefined ? undefined : this.unclaim(claimed.name)),
      () => undefined,
    ).catch(() => undefined);
  }

  /**
   * Runs `handler` on items as they come, `concurrency` at a time. An item is removed when its
   * handler resolves, put back at the tail when it throws (dead-lettered after `maxAttempts`), and
   * delivered again if this process dies while handling it.
   */
  consume(handler: (item: T, info: DeliveryInfo) => unknown, options: ConsumeOptions = {}): QueueConsumer {
    if (this.closed) throw queueClosed();
    if (typeof handler !== 'function') throw new FlowgateArgumentError('handler', handler, 'must be a function of (item, info)');
    if (options === null || typeof options !== 'object') throw new FlowgateArgumentError('options', options, 'must be an object such as { concurrency: 4 }');
    rejectUnknownOptions(options, ['concurrency', 'onError']);
    const concurrency = requireNumber('concurrency', options.concurrency ?? 1, { integer: true, min: 1, minInclusive: true });
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new FlowgateArgumentError('onError', options.onError, 'must be a function of (error)');
    const onError = options.onError;
    let stopping = false;
    /** Set when a stop past its timeout gives the items in hand back: nothing more is handled. */
    let abandoned = false;
    const inHand = new Set<Promise<void>>();
    /** The names of the items whose handlers run. */
    const handling = new Set<string>();
    let wake: (() => void) | undefined;
    const loop = (async () => {
      while (!stopping && !this.closed) {
        if (inHand.size >= concurrency) {
          await Promise.race(inHand);
          continue;
        }
        let claimed: Array<Claimed<T>>;
        let fresh: boolean;
        try {
          await this.ready();
          const candidates = await this.listing.candidates();
          fresh = candidates.fresh;
          // Claims as many items as there is room for, in parallel; handlers start in queue order.
          claimed = await this.claimSeveral(candidates.names, concurrency - inHand.size, true);
        } catch (error) {
          // A consumer never dies of a ZooKeeper error: it reports what is not a plain outage and tries
          // again. Stopping (or its queue closed meanwhile), it has nothing to report: it just ends.
          if (stopping || this.closed) continue;
          if (!isUnavailable(error)) report(onError, error);
          // The queue's parents were removed under us (by hand, or a reset): make them again.
          if (zkCode(error) === ZkCode.NO_NODE) this.parents = undefined;
          this.listing.discard();
          await sleep(isUnavailable(error) ? 100 : 1000);
          continue;
        }
        if (claimed.length === 0) {
          const notDueMs = this.msUntilFirstDue();
          if (notDueMs > 0) {
            // Only items waiting out a retry delay: wait until the first is due, or the list changes.
            if (!fresh) this.listing.expire();
            else await this.listing.changeOrTimeout(Math.min(notDueMs, this.pollMs), undefined, (resolve) => (wake = resolve));
            continue;
          }
          // Names left to try, or an old snapshot used up (the next round lists again): go on.
          if (this.listing.left > 0 || !fresh) continue;
          // A fresh listing held nothing to claim: wait for a change, as when the queue is empty.
          await this.listing.changeOrTimeout(this.pollMs, undefined, (resolve) => (wake = resolve));
          continue;
        }
        if (abandoned) {
          // Claimed as a stop past its timeout gave the items in hand back: these go back too, not handled.
          await Promise.all(claimed.map((item) => this.unclaim(item.name).catch((error: unknown) => report(onError, error))));
          continue;
        }
        for (const item of claimed) {
          handling.add(item.name);
          const work = this.handle(item, handler, onError).finally(() => {
            inHand.delete(work);
            handling.delete(item.name);
          });
          inHand.add(work);
        }
      }
      await Promise.allSettled(inHand);
    })().catch((error: unknown) => report(onError, error));
    // Settles once a stop past its timeout has given the items in hand back: every stop waiting ends then.
    let gaveBack: () => void = () => undefined;
    const givenBack = new Promise<'given back'>((resolve) => (gaveBack = () => resolve('given back')));
    const consumer = {
      stop: async (stopOptions: StopOptions = {}) => {
        const timeoutMs = stopTimeoutMs(stopOptions);
        stopping = true;
        wake?.();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = timeoutMs === Infinity ? [] : [new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))];
        const ended = await Promise.race([loop.then(() => 'done' as const), givenBack, ...timedOut]);
        clearTimeout(timer);
        if (ended === 'timeout') {
          // Handlers still running: their items go back to the queue now rather than when this
          // session ends; what those handlers do later is dropped (see handle()).
          abandoned = true;
          const names = [...handling];
          for (const name of names) this.givenBack.add(name);
          await Promise.all(names.map((name) => this.unclaim(name).catch((error: unknown) => report(onError, error))));
          gaveBack();
        }
        this.consumers.delete(consumer);
      },
    };
    this.consumers.add(consumer);
    return consumer;
  }

  /**
   * Stops every consumer (letting the items in hand settle, or giving them back after `timeout`:
   * see {@link StopOptions}) and closes the session when the queue opened its own. A `dequeue()` or
   * `tryDequeue()` still waiting rejects at once with `ERR_FLOWGATE_CLOSED`, and so does every call
   * made after it; enqueues under way get up to 2 s to finish. A second call waits for the first
   * (its `timeout` then applies to the consumers still stopping).
   */
  async close(options: StopOptions = {}): Promise<void> {
    stopTimeoutMs(options);
    if (this.closing !== undefined) {
      // A close under way (waiting for handlers, perhaps for ever): this call's timeout applies to it too.
      if (options.timeout !== undefined) await Promise.all([...this.consumers].map((consumer) => consumer.stop(options)));
      return this.closing;
    }
    this.closing = this.shutDown(options);
    return this.closing;
  }

  /** What close() does, once. */
  private async shutDown(options: StopOptions): Promise<void> {
    this.closed = true;
    for (const wait of this.waits) wait.abort(queueClosed());
    this.closingUntil = performance.now() + CLOSE_GRACE_MS;
    const ending = setTimeout(() => this.endWaits(new FlowgateError('ERR_FLOWGATE_CLOSED', `flowgate: queue '${this.name}' was closed before ZooKeeper was ready`)), CLOSE_GRACE_MS);
    this.session.off('session', this.onSession);
    await Promise.all([...this.consumers].map((consumer) => consumer.stop(options)));
    // An enqueue under way finishes, or learns its outcome, before the session goes (for up to
    // CLOSE_GRACE_MS; one whose reply is lost past it stops with ERR_FLOWGATE_CLOSED, its outcome unknown).
    if (this.enqueuing.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.enqueuing]), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS + 100)))]);
      clearTimeout(timer);
    }
    // A shared store's session lives on: remove the markers it would otherwise keep.
    if (this.ownStore === undefined) await this.markers.flush();
    this.markers.stop();
    await this.ownStore?.close();
    clearTimeout(ending);
  }

  private async handle(claimed: Claimed<T>, handler: (item: T, info: DeliveryInfo) => unknown, onError: ((error: unknown) => void) | undefined): Promise<void> {
    // Counted when it was claimed: this delivery's number.
    const attempt = claimed.envelope.attempts;
    let failure: unknown;
    // Whether the delivery failed: a handler may throw (or reject with) undefined, which is a failure all the same.
    let failed = false;
    if (attempt > this.maxAttempts) {
      // Its deliveries are used up and it is here again: its last delivery never settled (its
      // consumer crashed or lost its session while holding it), or maxAttempts was lowered since.
      // It is not handed to a handler again.
      failed = true;
      failure = new Error(`delivered ${attempt - 1} times (maxAttempts ${this.maxAttempts}): its last delivery never settled (its consumer crashed, or lost its ZooKeeper session, before the handler did), or maxAttempts was lowered since`);
    } else {
      try {
        await handler(claimed.envelope.item, { id: claimed.name, firstId: claimed.envelope.first ?? claimed.name, attempt });
      } catch (error) {
        failed = true;
        failure = error;
      }
    }
    // Given back by a stop past its timeout while the handler ran: the item is someone else's now.
    if (this.givenBack.delete(claimed.name)) return;
    let delayMs = 0;
    if (failed && attempt < this.maxAttempts) {
      try {
        delayMs = this.retryDelay(attempt, failure);
      } catch (error) {
        // A retryDelay function that throws, or returns no duration: told, and the item goes back at once.
        report(onError, error);
      }
    }
    let settled = false;
    try {
      await this.retrying(() => (!failed ? this.complete(claimed.name) : this.putBack(claimed, attempt, failure, delayMs)));
      settled = true;
    } catch (error) {
      // The item will be delivered again (at least once): by this instance, which finds its claim
      // still there, or by anyone once the claim vanishes with the session. Told, not swallowed.
      report(onError, error);
    } finally {
      this.release(claimed.name, settled);
    }
  }

  /**
   * Claims up to `room` items from the front of `candidates` at once (consuming the list as it
   * goes): each claim is one multi that checks the item still exists and creates the claim, so an
   * item already finished by someone else costs no write. Resolves with the items claimed, in queue
   * order (none when every name tried was gone or taken by someone else).
   */
  private async claimSeveral(candidates: string[], room: number, count: boolean): Promise<Array<Claimed<T>>> {
    // Items waiting out a retry delay stay in the list, left for later; the others are taken off it in turn order.
    const now = this.serverNow();
    if (!candidates.some((name) => msUntilDue(name, now) === 0)) return [];
    // The claims in place now (a short list: the items being worked on): names held by others are
    // skipped without a claim attempt, which would be a failed write.
    const busy = new Set(await this.session.getChildren(this.claims));
    const names: string[] = [];
    for (let i = 0; names.length < room && i < candidates.length; ) {
      const name = candidates[i] as string;
      if (msUntilDue(name, now) > 0) {
        i++;
        continue;
      }
      candidates.splice(i, 1);
      if (!this.held.has(name) && (!busy.has(name) || this.uncertainClaims.has(name))) names.push(name);
    }
    const outcomes = await Promise.allSettled(names.map((name) => this.claimOne(name, count)));
    const isClaim = (outcome: PromiseSettledResult<Claimed<T> | 'gone' | 'taken'>): boolean => outcome.status === 'fulfilled' && typeof outcome.value === 'object';
    const claimed: Array<Claimed<T>> = [];
    let failure: unknown;
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') {
        if (isClaim(outcome)) claimed.push(outcome.value as Claimed<T>);
        continue;
      }
      // A claim that lost its reply ahead of claimed items: settle it before handing any of them
      // over, so that this consumer still takes items in queue order.
      if (isUnavailable(outcome.reason) && outcomes.slice(i + 1).some(isClaim)) {
        try {
          const again = await this.retrying(() => this.claimOne(names[i] as string, count), QueueWait.until(performance.now() + 30_000, unreachable));
          if (typeof again === 'object') claimed.push(again);
          continue;
        } catch (error) {
          failure ??= error;
          continue;
        }
      }
      failure ??= outcome.reason;
    }
    // Keep what was claimed (it is ours now); report a failure only when nothing came of the round.
    if (failure !== undefined && claimed.length === 0) throw failure;
    return claimed;
  }

  /**
   * Claims the first item that nobody holds, from the snapshot (listed again when stale, see
   * {@link ItemListing.candidates}); before answering "none" from an old snapshot, lists once more.
   */
  private async claimFirst(): Promise<Claimed<T> | undefined> {
    for (;;) {
      const { names, fresh } = await this.listing.candidates();
      const [claimed] = await this.claimSeveral(names, 1, false);
      if (claimed !== undefined) return claimed;
      if (this.msUntilFirstDue() > 0) {
        // Only items waiting out a retry delay are left: none to take, once the listing is fresh.
        if (fresh) return undefined;
        this.listing.expire();
        continue;
      }
      if (this.listing.left > 0) continue;
      if (fresh) return undefined;
      this.listing.expire();
    }
  }

  /** One claim of an item this instance does not hold (see {@link claimUnheld}); `count`: a consumer's delivery. */
  private async claimOne(name: string, count: boolean): Promise<Claimed<T> | 'gone' | 'taken'> {
    if (this.held.has(name) || this.claiming.has(name) || this.givenBack.has(name)) return 'taken';
    this.claiming.add(name);
    try {
      return await this.claimUnheld(name, count);
    } finally {
      this.claiming.delete(name);
    }
  }

  /**
   * Reads the item, then claims it in one multi with the read's version: the claim node, and
   * either a check of that version or (`count`, a consumer's delivery) the item written back with
   * one more delivery counted. A delivery is counted when it starts, so that an item whose
   * consumers keep dying on it (a poison item) reaches `maxAttempts` too.
   */
  private async claimUnheld(name: string, count: boolean): Promise<Claimed<T> | 'gone' | 'taken'> {
    const path = `${this.items}/${name}`;
    for (let race = 0; ; race++) {
      const epoch = this.session.sessionNumber;
      let read;
      try {
        read = await this.session.getData(path);
      } catch (error) {
        if (zkCode(error) !== ZkCode.NO_NODE) throw error;
        this.uncertainClaims.delete(name);
        return 'gone';
      }
      // The read's mtime bounds ZooKeeper's clock from below (a fresh item's, closely): retry delays are timed on it.
      this.serverOffset = Math.max(this.serverOffset, statTime(read.stat.mtime) - performance.now());
      const seen = decodeEnvelope<T>(read.data);
      const envelope = count ? { ...seen, attempts: (seen.attempts ?? 0) + 1 } : seen;
      const version = read.stat.version;
      try {
        await this.session.transaction([
          { op: 'create', path: `${this.claims}/${name}`, data: this.owner, mode: EPHEMERAL, acls: this.acls },
          count ? { op: 'setData', path, data: stored(envelopeJson(JSON.stringify(envelope.item), metaOf(envelope))), version } : { op: 'check', path, version },
        ]);
      } catch (error) {
        const code = zkCode(error);
        if (code === ZkCode.NO_NODE) {
          this.uncertainClaims.delete(name);
          // The create failed: the claims parent itself is missing. Else the item is gone (finished by someone else).
          if (failedOpIndex(error) === 0) throw new MissingQueueNodeError(this.claims);
          return 'gone';
        }
        // Changed since the read (claimed by a consumer that has lost its claim since): read again.
        if (code === ZkCode.BAD_VERSION && race < 5) continue;
        if (code === ZkCode.BAD_VERSION) return 'taken';
        if (code !== ZkCode.NODE_EXISTS) {
          if (isUnavailable(error)) this.uncertainClaims.add(name);
          throw error;
        }
        // Someone holds it: someone else, unless an earlier claim of this instance lost its reply
        // (its multi applied: the item read above is the one it wrote).
        if (!this.uncertainClaims.has(name) || !(await this.ownsClaim(name))) return 'taken';
        this.uncertainClaims.delete(name);
        if (epoch !== this.session.sessionNumber) return 'taken';
        this.held.set(name, epoch);
        return { name, envelope: seen };
      }
      this.uncertainClaims.delete(name);
      // A new session began since the claim was sent: the claim (ephemeral) went with the old one,
      // and another consumer may hold the item now.
      if (epoch !== this.session.sessionNumber) return 'taken';
      this.held.set(name, epoch);
      return { name, envelope };
    }
  }

  /**
   * Gives back this instance's claim on `name`, leaving the item to the next taker (unless the claim
   * went with its session: a claim there now is someone else's).
   */
  private async unclaim(name: string): Promise<void> {
    const removed = !this.claimStillOurs(name) || await this.session.remove(`${this.claims}/${name}`, -1).then(
      () => true,
      (removal: unknown) => zkCode(removal) === ZkCode.NO_NODE,
    );
    this.release(name, removed);
  }

  /**
   * This instance no longer works on `name`. Unless its claim is known to be gone (`settled`), the
   * claim may still be there, this instance's: an existing claim on it is then read before being
   * taken for someone else's, so that the item is not stranded behind a claim nobody works on.
   */
  private release(name: string, settled: boolean): void {
    this.held.delete(name);
    if (settled) this.uncertainClaims.delete(name);
    else this.uncertainClaims.add(name);
  }

  /**
   * Removes a claimed item and its claim in one multi. An item already gone counts as done: an
   * earlier attempt whose reply was lost removed it, or (after this session lost its claim) another
   * consumer had it delivered again, which at-least-once allows.
   */
  private async complete(name: string): Promise<void> {
    // The claim went with an earlier session: another consumer may hold the item now; leave it to
    // them (this delivery was one of at-least-once).
    if (!this.claimStillOurs(name)) return;
    try {
      await this.session.transaction([
        { op: 'remove', path: `${this.items}/${name}`, version: -1 },
        { op: 'remove', path: `${this.claims}/${name}`, version: -1 },
      ]);
    } catch (error) {
      if (zkCode(error) !== ZkCode.NO_NODE) throw error;
      if (this.claimStillOurs(name)) await this.session.remove(`${this.claims}/${name}`, -1).catch(() => undefined);
    }
  }

  /**
   * Whether this instance's claim on `name` was made in the current session, so that a claim node
   * there now is its own (read right before a write: the write then goes out on the same session,
   * and fails if that session has ended meanwhile).
   */
  private claimStillOurs(name: string): boolean {
    return this.held.get(name) === this.session.sessionNumber;
  }

  private async ownsClaim(name: string): Promise<boolean> {
    try {
      const { data } = await this.session.getData(`${this.claims}/${name}`);
      return data !== undefined && data.equals(this.owner);
    } catch (error) {
      if (zkCode(error) === ZkCode.NO_NODE) return false;
      throw error;
    }
  }

  /** A failed delivery: back to the tail (its deliveries counted), or to the dead letters after `maxAttempts`. */
  private async putBack(claimed: Claimed<T>, attempt: number, failure: unknown, delayMs: number): Promise<void> {
    const dead = attempt >= this.maxAttempts;
    // Read back from JSON: it is JSON again.
    const item = JSON.stringify(claimed.envelope.item);
    // A poison item (attempt past maxAttempts, never handed over) is kept with the deliveries made.
    const meta = metaOf({ ...claimed.envelope, attempts: Math.min(attempt, this.maxAttempts), first: claimed.envelope.first ?? claimed.name });
    const { priority } = claimed.envelope;
    const data = dead ? deadLetter(item, meta, errorText(failure)) : stored(envelopeJson(item, meta));
    // Back in line as if enqueued now with its priority, or (not taken before then) once its retry delay has passed.
    // A dead letter's turn is when it died (its priority kept in the envelope): listed in that order.
    const place = dead ? { turn: itemTurn(this.serverNow(), 0), due: undefined } : retryPlace(this.serverNow(), priority ?? 0, delayMs);
    // The claim went with an earlier session: the item is back in the queue already, perhaps
    // delivered to another consumer; a copy made now would be a second delivery at once.
    if (!this.claimStillOurs(claimed.name)) return;
    await this.session.transaction([
      { op: 'create', path: `${dead ? this.dead : this.items}/${itemPrefix(place.turn, randomUUID(), place.due)}`, data, mode: PERSISTENT_SEQUENTIAL, acls: this.acls },
      { op: 'remove', path: `${this.items}/${claimed.name}`, version: -1 },
      { op: 'remove', path: `${this.claims}/${claimed.name}`, version: -1 },
    ]);
  }

  /**
   * Creates a sequential node with a unique prefix; after a lost reply, finds it instead of creating
   * twice. A create is sent again only after a lookup that answered and did not find it.
   */
  private async protectedCreate(parent: string, data: Buffer, turn: number): Promise<string> {
    const uuid = randomUUID();
    const prefix = itemPrefix(turn, uuid);
    const marker = this.markers.pathOf(uuid);
    const create: TransactionOp = { op: 'create', path: `${parent}/${prefix}`, data, mode: PERSISTENT_SEQUENTIAL, acls: this.acls };
    let lost = false;
    let carried: CarriedMarkers | undefined;
    /** When the last multi was sent: the connection to drop when its reply is lost. */
    let sentAt = 0;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && this.closed && performance.now() > this.closingUntil) {
        // Its outcome unknown: the markers its multi carried may still be there; the flush drops those gone.
        if (carried !== undefined) {
          this.markers.notRun(carried);
          this.markers.settled({ paths: [], session: carried.session }, marker);
        }
        throw new FlowgateError('ERR_FLOWGATE_CLOSED', `flowgate: queue '${this.name}' was closed while an enqueue's reply was lost: the item may or may not be stored`);
      }
      try {
        if (lost) {
          // A write first: a server that answers it follows the current leader, so the reads
          // after it see the lost create if ZooKeeper kept it (a follower still on a dead leader
          // could answer from a state without it, and the item would then be created twice).
          await this.writeLabel();
          const sent = carried as CarriedMarkers;
          if (sent.session === this.session.sessionNumber) {
            // Same session, so the marker of the multi is there if and only if the multi ran, even
            // when a consumer has already taken and removed the item.
            if ((await this.session.exists(marker)) !== null) return this.stored(parent, prefix, sent, marker);
            this.markers.notRun(sent);
          } else {
            // A new session: the marker went with the old one; only the item itself can tell.
            const mine = (await this.session.getChildren(parent)).find((name) => name.startsWith(prefix));
            if (mine !== undefined) return mine;
          }
          lost = false;
        }
        const { ops, carried: sending } = this.markers.opsFor(marker);
        carried = sending;
        sentAt = performance.now();
        let results;
        try {
          results = await this.session.transaction([create, ...ops]);
        } catch (error) {
          if (isUnavailable(error)) throw error;
          // An answer: the multi did not run. The markers it carried are all still there, but one
          // whose remove failed (none should: it is dropped, and the item created without them).
          const index = failedOpIndex(error);
          this.markers.notRun(sending, index !== undefined && index >= 2 ? sending.paths[index - 2] : undefined);
          // Its own marker exists: the multi whose reply was lost did run, later than the lookup.
          if (index === 1 && zkCode(error) === ZkCode.NODE_EXISTS) return this.stored(parent, prefix, { paths: [], session: sending.session }, marker);
          if (index === undefined || index < 2) throw error;
          carried = { paths: [], session: sending.session };
          sentAt = performance.now();
          results = await this.session.transaction([create, ops[0] as TransactionOp]);
        }
        this.markers.settled(carried, marker);
        return (results[0]?.path ?? `${parent}/${prefix}`).slice(parent.length + 1);
      } catch (error) {
        if (!isUnavailable(error) || attempt >= 20) throw error;
        if (lost) {
          // The lookup itself failed: look again (the liveness probe moves off a silent server).
          await sleep(100);
        } else {
          lost = true;
          // Drop the connection first: a create still queued on it could otherwise run after the look.
          await this.session.reconnect(10_000, sentAt).catch(() => undefined);
        }
      }
    }
  }

  /**
   * The item of a create whose reply was lost is known to be stored: its marker is done with, and
   * its name is looked up once (its prefix when the lookup fails, or a consumer finished it).
   * Nothing after this may create it again.
   */
  private async stored(parent: string, prefix: string, carried: CarriedMarkers, marker: string): Promise<string> {
    this.markers.settled(carried, marker);
    try {
      return (await this.session.getChildren(parent)).find((name) => name.startsWith(prefix)) ?? prefix;
    } catch {
      return prefix;
    }
  }

  /** Uncertain claims of items no longer listed are moot (the item is finished): forget them, so the set stays small. */
  private forgetFinished(listed: readonly string[]): void {
    if (this.uncertainClaims.size === 0) return;
    const present = new Set(listed);
    for (const name of this.uncertainClaims) if (!present.has(name) && !this.held.has(name)) this.uncertainClaims.delete(name);
  }

  /**
   * Runs `work`, trying again after a lost connection (with a growing pause) until `wait` ends:
   * then with the last error (or, aborted, the abort's reason).
   */
  private async retrying<R>(work: () => Promise<R>, wait: QueueWait = FOREVER): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!isUnavailable(error) || attempt >= 50 || this.closed || wait.left <= 0) throw error;
        await wait.sleep(Math.min(1000, 50 * 2 ** attempt));
        if (wait.left <= 0) throw error;
      }
    }
  }

  /**
   * Creates the queue's parents once, waiting out a lost connection for up to 30 s; one caller
   * stops waiting when its `wait` ends (the parents are made on for the others).
   */
  private ready(wait?: QueueWait): Promise<void> {
    if (this.parents === undefined) {
      const deadline = performance.now() + 30_000;
      this.parents = this.retrying(async () => {
        await Promise.race([this.store.ready(Math.max(1, deadline - performance.now())), this.closeDeadline]);
        for (const path of [this.items, this.claims, this.dead, this.creating]) await this.session.mkdirp(path, this.acls);
        // The queue's node carries its name in clear (node names are hashes), for `flowgate status`.
        // Written every time: the write's mtime tells ZooKeeper's clock, on which items' turns are measured.
        const stat = await this.writeLabel();
        this.serverOffset = statTime(stat.mtime) - performance.now();
      }, QueueWait.until(deadline, unreachable)).catch((error) => {
        this.parents = undefined;
        throw error;
      });
      // Handled here too: the callers that waited for it may all have given up.
      this.parents.catch(() => undefined);
    }
    return wait === undefined ? this.parents : wait.race(this.parents);
  }

  /** Writes the queue node's label (its name in clear, for `flowgate status`); resolves with the write's stat. */
  private writeLabel(): Promise<Stat> {
    const base = this.items.slice(0, this.items.lastIndexOf('/'));
    return this.session.setData(base, Buffer.from(JSON.stringify({ v: 1, name: this.name })), -1);
  }

  /** The item's own JSON, checked: a JSON value of at most maxItemBytes bytes (else FlowgateArgumentError). */
  private itemJson(item: T): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(item);
    } catch (error) {
      // A BigInt, a circular structure, a throwing toJSON.
      const why = String((error as Error)?.message ?? error).split('\n')[0];
      throw new FlowgateArgumentError('item', item, `must be a JSON value (${why})`);
    }
    // undefined, a function or a symbol would vanish from the JSON: taken back, it would look like an empty queue.
    if (json === undefined) throw new FlowgateArgumentError('item', item, 'must be a JSON value (not undefined, a function or a symbol)');
    const bytes = Buffer.byteLength(json);
    if (bytes > this.maxItemBytes) {
      throw new FlowgateArgumentError('item', `${bytes} bytes of JSON`, `must be at most maxItemBytes=${this.maxItemBytes} bytes; store large payloads elsewhere and enqueue a reference`);
    }
    return json;
  }
}

/** The `timeout` of a stop or a close in ms (Infinity when none); throws FlowgateArgumentError / FlowgateConfigError naming a bad one. */
function stopTimeoutMs(options: StopOptions): number {
  if (options === null || typeof options !== 'object') throw new FlowgateArgumentError('options', options, "must be an object such as { timeout: '10s' }");
  rejectUnknownOptions(options, ['timeout']);
  if (options.timeout === undefined) return Infinity;
  // setTimeout holds at most 2^31 - 1 ms.
  return Math.min(parseDuration(options.timeout, 'timeout'), MAX_TIMER_MS);
}

/** Hands a consumer's error to its `onError`, or warns; a throwing `onError` cannot stop the consumer. */
function report(onError: ((error: unknown) => void) | undefined, error: unknown): void {
  try {
    if (onError !== undefined) onError(error);
    else console.warn('flowgate: DistributedQueue consumer:', error);
  } catch {
    // The consumer goes on.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The error of a call made on, or ended by, a closed queue. */
function queueClosed(): FlowgateError {
  return new FlowgateError('ERR_FLOWGATE_CLOSED', 'flowgate: the queue is closed');
}

/** The error of a wait for ZooKeeper that reached its deadline. */
function unreachable(): Error {
  return new ZooKeeperUnavailableError('flowgate: ZooKeeper could not be reached in time');
}

/** A wait with no deadline (only the queue's own limits, such as 50 retries, end it). */
const FOREVER = QueueWait.until(Infinity, unreachable);

/** Whether `value` is an AbortSignal (also one of another realm). */
function isAbortSignal(value: unknown): value is AbortSignal {
  if (value instanceof AbortSignal) return true;
  const signal = value as Partial<AbortSignal> | null;
  return typeof signal === 'object' && signal !== null && typeof signal.aborted === 'boolean' && typeof signal.addEventListener === 'function' && typeof signal.removeEventListener === 'function';
}
