// The ZooKeeper store: one shared token bucket per key for every process, leased in chunks.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ACL } from 'node-zookeeper-client';
import { monotonicClock, type Clock } from '../../clock.js';
import { MemoryStore } from '../../memory-store.js';
import { bucketPolicy, type BucketPolicy } from '../../policy.js';
import { bookUpdate, reserve, type Book, type BookUpdate, type Entry, type ReservationAsk, type ReservationOutcome, type ReservationResult, type Turn } from '../../reservation.js';
import type { PolicyUpdate, PublishedPolicy, QueueBounds, VersionedPolicy } from '../../policy-update.js';
import type { LimiterProbe, Store, StoreTakeResult } from '../../store.js';
import { fits } from '../../token-bucket.js';
import { BucketContentionError, readBucket, refillRate, resetBucket, updateBucket, type BucketTarget, type BucketUpdate, type WriteCounter } from './bucket-cas.js';
import { storedTokensAt } from './bucket-codec.js';
import { bucketIdleFor, bucketJanitor } from './bucket-janitor.js';
import { BookRepairs, withMark, type BookedTurn } from './book-repairs.js';
import { permitJanitor } from './permit-janitor.js';
import type { ShardJanitor } from './shard-janitor.js';
import { digestAcls } from './digest-acls.js';
import { MemberReport } from './member-report.js';
import { Membership } from './membership.js';
import { PolicyRegistry } from './policy-registry.js';
import { ReservationWatch } from './reservation-watch.js';
import { PolicyWatch } from './policy-watch.js';
import { ServerClock } from './server-clock.js';
import { TokenLease, type LeaseWindows } from './token-lease.js';
import { resolveZooKeeperStoreOptions, type ResolvedZooKeeperStoreOptions, type UnavailablePolicy, type ZooKeeperStoreOptions } from './zookeeper-store-options.js';
import { ZkCode, ZooKeeperSession, ZooKeeperUnavailableError, isUnavailable, zkCode } from './zookeeper-session.js';
import { FlowgateConfigError, FlowgateError } from '../../errors.js';
import { ZnodePaths } from './znode-paths.js';
import { resolveClock } from '../../limiter-options.js';
import { brand } from '../../brand.js';

/** Payloads of the events a {@link ZooKeeperStore} emits. */
export interface ZooKeeperStoreEvents {
  /** ZooKeeper cannot be reached: decisions follow `onUnavailable` until `recovered`. */
  degraded: { reason: string };
  /** ZooKeeper is reachable again: decisions use the shared buckets again. */
  recovered: { degradedMs: number };
  /** The number of live members changed. */
  members: { count: number };
}

/** Figures of a store, for benchmarks and operators. */
export interface ZooKeeperStoreStats {
  /** ZooKeeper writes made by this store (bucket creates, compare-and-sets, deletes). */
  readonly writes: number;
  /** Compare-and-set races lost (each was retried). */
  readonly conflicts: number;
  /** Live members, as last seen. */
  readonly members: number;
  /** Whether decisions currently use ZooKeeper. */
  readonly available: boolean;
  /** Whether the store has announced `degraded` and not yet `recovered` (unavailable past the grace period). */
  readonly degraded: boolean;
  /** ZooKeeper calls made, by operation (`getData`, `setData`, `create`, `remove`, `exists`, ...). */
  readonly operations: Readonly<Record<string, number>>;
  /** ZooKeeper calls failed, by kind (`timeout`, `closed`, `BAD_VERSION`, `NODE_EXISTS`, `CONNECTION_LOSS`, ...). */
  readonly errors: Readonly<Record<string, number>>;
  /** Tokens leased from the shared buckets, by limiter name. */
  readonly tokensLeased: Readonly<Record<string, number>>;
  /**
   * Takes answered by `onUnavailable` because ZooKeeper could not be reached in time, by limiter
   * name (a running total: a brief outage between two looks at `available` still shows here).
   */
  readonly fallbackDecisions: Readonly<Record<string, number>>;
  /** Keys this process keeps a lease for (forgotten once idle: memory stays bounded, also while ZooKeeper is unreachable). */
  readonly leasedKeys: number;
  /** Whether `close()` was called: the store decides nothing more (and reports neither degraded nor members). */
  readonly closed: boolean;
}

/** A wait for refill longer than this makes a process watch the bucket for a reset elsewhere. */
const RESET_WATCH_AFTER_MS = 1000;
/** node-zookeeper-client's Event.NODE_DELETED and Event.NODE_DATA_CHANGED. */
const NODE_DELETED = 2;
const NODE_DATA_CHANGED = 3;

/** When to retry a take that lost every compare-and-set race. */
const CONTENTION_RETRY_MS = 20;
/** The shortest pause between chunk fetches when the shared bucket is short. */
const MIN_LEASE_MS = 50;
/** After a fetch refused because waiters are in the book, takes try the shared bucket again no sooner than this (ms): they join the queue meanwhile. */
const QUEUED_RETRY_MS = 20;

/** A bucket this process wrote, and when it is full again (server time): deleted once full for `cleanupAfter`, if a fresh read agrees. */
interface CleanupEntry {
  readonly target: BucketTarget;
  readonly fullAt: number;
}

/**
 * What other flowgate recipes on the store's connection need: its session, root, ACLs, and this
 * process's member id and the live member ids (a member's node vanishes with its session).
 * @internal
 */
export interface StoreConnection {
  readonly session: ZooKeeperSession;
  readonly root: string;
  readonly acls: ACL[] | undefined;
  readonly memberId: string;
  liveMembers(): readonly string[];
  /** The store's `onUnavailable` policy and `unavailableAfter` (ms), for recipes that fall back the same way. */
  readonly onUnavailable: UnavailablePolicy;
  readonly unavailableAfterMs: number;
  /** Whether the store counts among the members sharing the limits (its `countAsMember` option). */
  readonly countAsMember: boolean;
}

/**
 * Keeps token buckets in ZooKeeper so that many processes on many hosts share one limit.
 *
 * Leased mode (default): a process takes a chunk of tokens from the shared bucket with one
 * compare-and-set, sized to about `leaseWindow` of its recent demand and at most its share of the
 * burst, and spends it locally with no ZooKeeper round trip; it fetches the next chunk before the
 * current one runs out. Tokens are withdrawn before they are spent, so the cluster never admits more
 * than `burst + rate × T` in any period T; leased tokens that go unspent are given back when the
 * lease goes idle. Strict mode (`strict: true` on the limiter): every take is one compare-and-set.
 *
 * Time is ZooKeeper's: refill is computed from the mtime of each bucket's writes, never from an app
 * host's clock. When ZooKeeper cannot be reached within `unavailableAfter`, decisions follow
 * `onUnavailable`, and return to the shared buckets by themselves when it is back.
 */
export class ZooKeeperStore extends EventEmitter implements Store {
  private readonly options: ResolvedZooKeeperStoreOptions;
  private readonly session: ZooKeeperSession;
  private readonly paths: ZnodePaths;
  private readonly local: Clock;
  private readonly serverClock: ServerClock;
  private readonly membership: Membership;
  private readonly acls: ACL[] | undefined;
  private readonly counter: WriteCounter = { writes: 0, conflicts: 0 };
  private readonly leases = new Map<string, TokenLease>();
  private readonly cleanups = new Map<string, CleanupEntry>();
  private readonly fallback: MemoryStore;
  private readonly fallbackPolicies = new Map<string, BucketPolicy>();
  /** Strict buckets last seen short, so that a burst of refusals needs no round trips. */
  private readonly strictSeen = new Map<string, { tokens: number; at: number; fullAt: number }>();
  /** Buckets watched for a reset elsewhere (see watchForReset), by lease id. */
  private readonly resetWatches = new Set<string>();
  /** The tail of each strict bucket's chain of decisions. */
  private readonly turns = new Map<string, Promise<void>>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly janitors: readonly ShardJanitor[];
  private janitorAt = Number.NEGATIVE_INFINITY;
  private sweeping = false;
  private available = false;
  /** Whether the current session's registration (see `register`) has completed, and the one in flight. */
  private registered = false;
  /**
   * Tokens `onUnavailable` gave out per bucket (lease id) while ZooKeeper was away, not refunded yet:
   * a refund goes back there first (see refund()). Forgotten a minute after ZooKeeper is back.
   */
  private readonly fallbackGiven = new Map<string, number>();
  private forgetGiven: NodeJS.Timeout | undefined;
  /** Why ZooKeeper, answering, refused this store's registration (a credential, a missing chroot): told instead of "not reachable". */
  private refusal: string | undefined;
  private registering: Promise<void> | undefined;
  private announcedDegraded = false;
  private unavailableSince: number;
  /** Waits for ZooKeeper to be usable again: each is woken when it is; close() fails those that can fail (ready()) and drops the rest. */
  private waiters: Array<{ readonly wake: () => void; readonly fail?: (error: Error) => void }> = [];
  private recovery: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private readonly registry: PolicyRegistry;
  private readonly policyWatch: PolicyWatch;
  private readonly reservationWatch = new ReservationWatch();
  private readonly report: MemberReport;
  /** Tokens leased so far, by limiter name. */
  private readonly leased = new Map<string, number>();
  /** Takes answered by onUnavailable, by limiter name. */
  private readonly fallbackDecided = new Map<string, number>();
  /** How much demand a lease's chunk covers (see TokenLease.chunkSize). */
  private readonly leaseWindows: LeaseWindows;
  /** This store's key in the books' booking marks, and the number of its latest booking or cancel write (see BookRepairs). */
  private readonly tag = randomBytes(6).toString('base64url');
  private marks = 0;
  /** Waiters to take out of shared books again: those that left, and those of booking writes whose answer never came. */
  private readonly repairs: BookRepairs;
  /** Bookings under way (see reserve): close() lets them return first. */
  private readonly reserving = new Set<Promise<ReservationResult>>();

  /** Validates the options (throwing FlowgateConfigError) and starts connecting in the background. */
  constructor(options: ZooKeeperStoreOptions & { clock?: Clock }) {
    super();
    const { clock, ...rest } = options ?? ({} as ZooKeeperStoreOptions);
    this.options = resolveZooKeeperStoreOptions(options === null || typeof options !== 'object' ? options : rest);
    this.local = resolveClock(clock) ?? monotonicClock;
    this.leaseWindows = { leaseMs: this.options.leaseWindowMs, maxLeaseMs: this.options.maxLeaseWindowMs };
    this.unavailableSince = this.local.now();
    this.paths = new ZnodePaths(this.options.root);
    this.serverClock = new ServerClock(this.local);
    this.fallback = new MemoryStore({ clock: this.local });
    this.acls = this.options.auth === undefined ? undefined : digestAcls(this.options.auth);
    this.session = new ZooKeeperSession({
      connect: this.options.connect,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      callTimeoutMs: this.options.unavailableAfterMs,
      digest: this.options.auth,
    });
    this.membership = new Membership(this.session, this.paths.members, this.serverClock, this.acls, (count) => this.emit('members', { count }), this.options.countAsMember);
    this.registry = new PolicyRegistry(this.session, this.options.root, this.acls);
    this.policyWatch = new PolicyWatch(this.registry);
    this.report = new MemberReport(this.session, this.paths, this.membership, this.acls);
    this.janitors = [
      bucketJanitor(this.session, `${this.options.root}/buckets`, this.serverClock, this.options.cleanupAfterMs, this.counter),
      permitJanitor(this.session, `${this.options.root}/permits`, this.paths.members, this.counter),
    ];
    this.repairs = new BookRepairs({
      tag: this.tag,
      nextMark: () => ++this.marks,
      available: () => this.available,
      update: (policy, key, change) => {
        const target = this.targetOf(policy, key);
        return this.withDeadline(updateBucket(target, change)).then((update) => {
          if (update.wrote) this.noteWrite(policy, target, update);
          return update;
        });
      },
      unknownOutcome: isUnavailable,
      failed: (error) => this.lateFailure(error),
      now: () => this.local.now(),
    });
    this.session.on('session', () => void this.onNewSession());
    this.session.on('state', (state: string) => {
      if (state === 'suspended') this.markUnavailable('connection to ZooKeeper lost', false);
      if (state === 'connected' && !this.available) void this.checkHealth();
    });
    this.session.start();
    this.announceIfStillDown('ZooKeeper not reachable at start-up', this.options.unavailableAfterMs);
    this.sweeper = setInterval(() => void this.sweep(), Math.max(250, this.options.leaseWindowMs));
    this.sweeper.unref();
  }

  /**
   * Resolves when the store is connected and registered, or rejects after `timeoutMs`, or at once
   * when the store is closed (code `ERR_FLOWGATE_CLOSED`).
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.available) return;
    if (this.closed) throw storeClosed();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const why = this.refusal === undefined ? '' : `: ${this.refusal}`;
        reject(new ZooKeeperUnavailableError(`flowgate: ZooKeeper at ${this.options.connect} not ready within ${timeoutMs} ms${why}`));
      }, timeoutMs);
      this.waiters.push({
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /**
   * The store's ZooKeeper session, root and ACLs, for other flowgate recipes (DistributedQueue)
   * that share its connection.
   * @internal
   */
  connection(): StoreConnection {
    const membership = this.membership;
    return {
      session: this.session,
      root: this.options.root,
      acls: this.acls,
      memberId: membership.id,
      liveMembers: () => membership.liveIds,
      onUnavailable: this.options.onUnavailable,
      unavailableAfterMs: this.options.unavailableAfterMs,
      countAsMember: this.options.countAsMember,
    };
  }

  /** {@inheritDoc Store.checkLimiter} */
  checkLimiter(policy: BucketPolicy): void {
    if (this.options.countAsMember) return;
    throw new FlowgateConfigError('countAsMember', false, `a store that does not count as a member makes no rate-limit decisions (limiter '${policy.name}'): give limiters a store with countAsMember: true, the default`);
  }

  /** Live members of the cluster (processes with a ZooKeeperStore on the same root), at least 1. */
  get members(): number {
    return this.membership.count;
  }

  /** Writes, lost races, members and availability. */
  stats(): ZooKeeperStoreStats {
    return {
      writes: this.counter.writes,
      conflicts: this.counter.conflicts,
      members: this.membership.count,
      available: this.available,
      degraded: this.announcedDegraded,
      operations: { ...this.session.operations },
      errors: { ...this.session.errors },
      tokensLeased: Object.fromEntries(this.leased),
      fallbackDecisions: Object.fromEntries(this.fallbackDecided),
      leasedKeys: this.leases.size,
      closed: this.closed,
    };
  }

  /** {@inheritDoc Store.publishPolicy} */
  async publishPolicy(name: string, update: PolicyUpdate, base: PublishedPolicy, queueDefaults?: QueueBounds): Promise<VersionedPolicy> {
    if (!this.available) await this.ready(this.options.unavailableAfterMs);
    const record = await this.registry.set(name, update, base, queueDefaults);
    const published: VersionedPolicy = { rate: record.rate, intervalMs: record.intervalMs, burst: record.burst, version: record.version, ...(record.queue !== undefined && { queue: record.queue }) };
    this.policyWatch.published(name, published);
    return published;
  }

  /** {@inheritDoc Store.watchPolicy} */
  watchPolicy(name: string, listener: (policy: VersionedPolicy | undefined) => void): () => void {
    return this.policyWatch.watch(name, listener);
  }

  /**
   * {@inheritDoc Store.policyWaitMs}: `unavailableAfter`, as long as a decision waits for ZooKeeper;
   * none once an outage is declared (`degraded`): the takes of a limiter made then are decided by
   * `onUnavailable` at once, as every other take, not after a wait for a policy that cannot come.
   */
  get policyWaitMs(): number {
    return this.announcedDegraded || this.closed ? 0 : this.options.unavailableAfterMs;
  }

  /** {@inheritDoc Store.attachLimiter} */
  attachLimiter(name: string, probe: () => LimiterProbe): () => void {
    return this.report.attach(name, probe);
  }

  /** {@inheritDoc Store.take} */
  async take(policy: BucketPolicy, key: string, cost: number): Promise<StoreTakeResult> {
    if (policy.strict) return this.inTurn(this.leaseId(policy, key), () => this.decide(policy, key, cost));
    // Spending tokens already leased needs no ZooKeeper, even while it is unreachable.
    const lease = this.leaseOf(policy, key);
    const now = this.local.now();
    lease.recordDemand(cost, now);
    if (fits(lease.tokens, cost)) return this.spend(policy, lease, cost, now);
    return this.decide(policy, key, cost);
  }

  /** Spends leased tokens synchronously when there are enough; `undefined` (nothing done) otherwise. */
  takeSync(policy: BucketPolicy, key: string, cost: number): StoreTakeResult | undefined {
    if (policy.strict) return undefined;
    const lease = this.leases.get(this.leaseId(policy, key));
    if (lease === undefined || !fits(lease.tokens, cost)) return undefined;
    const now = this.local.now();
    lease.recordDemand(cost, now);
    return this.spend(policy, lease, cost, now);
  }

  /**
   * Decides through ZooKeeper when it is usable, through `onUnavailable` otherwise; within
   * `unavailableAfter` in all: time spent waiting for a lost connection counts against it.
   */
  private async decide(policy: BucketPolicy, key: string, cost: number): Promise<StoreTakeResult> {
    const started = this.local.now();
    const waiting = !this.available;
    const outageSince = this.unavailableSince;
    if (!(await this.usable())) return this.fallbackTake(policy, key, cost);
    const sentAt = performance.now();
    const work = this.withDeadline(policy.strict ? this.strictTake(policy, key, cost) : this.leasedTake(policy, key, cost));
    // It waited for the connection, which came back: what is left of its time is all ZooKeeper gets.
    if (waiting && (await beforeTimeLeft(work, started + this.options.unavailableAfterMs - this.local.now())) === 'late') {
      this.answeredLate(sentAt, outageSince);
      void work.then(
        (result) => {
          // ZooKeeper's answer came after the fallback's: the tokens a lease spent on it go back to the
          // lease. A strict take's token stays spent (never more admitted).
          if (result.taken && !policy.strict) {
            const lease = this.leases.get(this.leaseId(policy, key));
            if (lease !== undefined) lease.tokens = Math.min(policy.burst, lease.tokens + cost);
          }
          if (!this.available) void this.checkHealth();
        },
        (error: unknown) => this.lateFailure(error),
      );
      return this.fallbackTake(policy, key, cost);
    }
    try {
      return await work;
    } catch (error) {
      // A hot bucket, not a missing ZooKeeper: refuse this take rather than fall back.
      if (error instanceof BucketContentionError) return { taken: false, tokens: 0, retryAfterMs: CONTENTION_RETRY_MS };
      if (!isUnavailable(error)) throw error;
      this.markUnavailable(error instanceof Error ? error.message : String(error), true);
      return this.fallbackTake(policy, key, cost);
    }
  }

  /**
   * A decision that waited for a lost connection ran out of time once it was back, and is answered
   * by `onUnavailable`. If the server has answered nothing sent since its call (`sentAt`), it is
   * silent: the outage that began at `outageSince` goes on (its grace spent), so that what comes next
   * (the same request's queue booking, other decisions) falls back at once instead of waiting
   * again. A server that answers, only slowly, costs this decision alone.
   */
  private answeredLate(sentAt: number, outageSince: number): void {
    if (this.session.lastReplyAt > sentAt) return;
    this.outageGoesOn(outageSince);
  }

  /** The failure of ZooKeeper work whose decision was answered already: nothing to answer, only the state to note. */
  private lateFailure(error: unknown): void {
    if (isUnavailable(error)) this.markUnavailable(error instanceof Error ? error.message : String(error), true);
  }

  /**
   * Reserves tokens for waiting takes in one compare-and-set: the cluster-wide FIFO of the
   * overflow queue (see ReservationQueue). While ZooKeeper is unreachable, `onUnavailable` applies:
   * `'local'` reserves on this process's share, `'open'` admits, `'closed'` refuses.
   */
  reserve(policy: BucketPolicy, key: string, given: readonly ReservationAsk[], maxSize: number): Promise<ReservationResult> {
    // close() waits for the bookings under way: a batch answered 'closed' on its return gives its turns back.
    const reserving = this.reserveOrFallBack(policy, key, given, maxSize);
    this.reserving.add(reserving);
    void reserving.finally(() => this.reserving.delete(reserving)).catch(noValue);
    return reserving;
  }

  private async reserveOrFallBack(policy: BucketPolicy, key: string, given: readonly ReservationAsk[], maxSize: number): Promise<ReservationResult> {
    // The asks' ages are as of the moment each decision is made: waiting for a connection, the read
    // and any lost race take time after they were made.
    const askedAt = this.local.now();
    const waiting = !this.available;
    const outageSince = this.unavailableSince;
    const fallBack = (asks: readonly ReservationAsk[]): ReservationResult => this.fallbackReserve(policy, key, agedAsks(withoutGrace(asks), this.local.now() - askedAt), maxSize);
    if (!(await this.usable())) return fallBack(given);
    // The order grace waits for other processes' bookings: with no other member there are none.
    const asks = this.membership.count > 1 ? given : withoutGrace(given);
    const sentAt = performance.now();
    const attempt: BookingAttempt = { mark: ++this.marks, asks, abandoned: false };
    const work = this.reserveShared(policy, key, maxSize, askedAt, attempt);
    // As in decide(): the wait for the connection counts against unavailableAfter.
    if (waiting && (await beforeTimeLeft(work, askedAt + this.options.unavailableAfterMs - this.local.now())) === 'late') {
      this.answeredLate(sentAt, outageSince);
      // ZooKeeper's late answer may show it is back.
      void work.then(() => {
        if (!this.available) void this.checkHealth();
      }, noValue);
      this.abandon(policy, key, attempt);
      return fallBack(given);
    }
    try {
      return await work;
    } catch (error) {
      if (error instanceof BucketContentionError) {
        return { outcomes: asks.map(() => ({ granted: false, reason: 'limited', retryAfterMs: CONTENTION_RETRY_MS })), tokens: 0, waiting: 0 };
      }
      if (!isUnavailable(error)) throw error;
      this.markUnavailable(error instanceof Error ? error.message : String(error), true);
      this.abandon(policy, key, attempt);
      return fallBack(asks);
    }
  }

  /**
   * A booking whose waiters are answered by `onUnavailable` instead: no further attempt is written,
   * and if the write on its way lands (or its answer never comes, and it may have), its waiters are
   * taken out of the book again (see BookRepairs). Tokens it took at once (no wait, no turn) stay
   * spent: never more admitted.
   */
  private abandon(policy: BucketPolicy, key: string, attempt: BookingAttempt): void {
    attempt.abandoned = true;
    attempt.write?.then(
      (update) => {
        if (update.wrote) this.repairs.landed(policy, key, bookedTurns(attempt));
      },
      (error: unknown) => {
        if (attempt.writing && isUnavailable(error)) this.repairs.unsure(policy, key, attempt.mark, bookedTurns(attempt));
      },
    );
  }

  /**
   * Books the asks of `attempt` in the shared bucket with one compare-and-set, marked with the
   * attempt's booking mark; throws when ZooKeeper cannot be reached or the bucket is too hot.
   */
  private async reserveShared(policy: BucketPolicy, key: string, maxSize: number, askedAt: number, attempt: BookingAttempt): Promise<ReservationResult> {
    const { asks } = attempt;
    const target = this.targetOf(policy, key);
    const returned = this.takeBackLease(policy, key);
    /** What the latest attempt of the write put back of them. */
    let putBack = 0;
    attempt.write = updateBucket(target, (view) => {
      attempt.writing = false;
      // Given up (answered by onUnavailable): nothing more is written.
      if (attempt.abandoned) return undefined;
      this.repairs.observe(policy, key, view.book);
      // Only into an empty book: they then pay this batch alone. Into a book with other processes'
      // waiters they would move those waiters' turns sooner before their processes hear of it, and
      // this batch's later arrivals could be served first: the tokens then stay in the lease.
      putBack = view.book.entries.length === 0 ? returned.tokens : 0;
      const tokens = Math.min(policy.burst, view.tokens + putBack);
      const reserved = reserve(tokens, view.book, view.serverNow, policy, agedAsks(asks, this.local.now() - askedAt), maxSize);
      attempt.result = reserved.result;
      attempt.writing = reserved.result.outcomes.some((outcome) => outcome.granted);
      return attempt.writing ? { tokens: reserved.tokens, book: withMark(reserved.book, this.tag, attempt.mark) } : undefined;
    });
    // Leased tokens that did not go into the book go back to the lease; after a write of unknown
    // outcome they stay out (they may be in the book): never more admitted.
    attempt.write.then(
      (written) => (written.wrote && putBack > 0 ? undefined : returned.restore()),
      (error: unknown) => (error instanceof BucketContentionError || putBack === 0 ? returned.restore() : undefined),
    );
    const update = await this.withDeadline(attempt.write);
    if (update.wrote) this.noteWrite(policy, target, update);
    const done = attempt.result as ReservationResult;
    // Turns are absolute on ZooKeeper's clock: measure each wait from now, after the write's round trip.
    const serverNow = this.serverClock.now();
    const written = update.after;
    return {
      ...done,
      outcomes: withTickets(done.outcomes, asks, 'shared', (o) => Math.max(0, o.due - serverNow)),
      update: this.bookUpdate(policy, 'shared', update.zxid, written, update.serverNow, update.book.entries),
    };
  }

  /**
   * Takes the unspent tokens of this process's lease on a key whose queue is being booked, for the
   * booking write to put back in the shared bucket, where the book pays its front from them. A
   * burst's first take leases a chunk with its direct try; the takes that joined meanwhile queue,
   * and without this, what they did not spend of the chunk waited in the lease (unused by anyone)
   * until the key went idle here: 25 takes on a burst of 5 admitted 2 at once instead of 5.
   * `restore()` gives them back to the lease when the write did not happen or did not take them
   * (a book with waiters already).
   */
  private takeBackLease(policy: BucketPolicy, key: string): { readonly tokens: number; restore(): void } {
    const id = this.leaseId(policy, key);
    const lease = policy.strict ? undefined : this.leases.get(id);
    const tokens = lease === undefined ? 0 : Math.max(0, lease.tokens);
    if (lease === undefined || tokens === 0) return { tokens: 0, restore: noValue };
    lease.tokens = 0;
    return {
      tokens,
      restore: () => {
        if (this.leases.get(id) === lease) lease.tokens = Math.min(policy.burst, lease.tokens + tokens);
      },
    };
  }

  /** A state of a bucket's book, for the queue to time the waiters of `book` it holds ('shared' on ZooKeeper's clock, or 'local'). */
  private bookUpdate(policy: BucketPolicy, book: 'shared' | 'local', version: number, tokens: number, at: number, entries: readonly Entry[]): BookUpdate {
    const clock = book === 'shared' ? this.serverClock : this.local;
    return bookUpdate(book, version, tokens, at, entries, policy, () => clock.now());
  }

  /**
   * Gives back the tokens of a reservation whose waiter left. In the shared book, the cancels of a
   * bucket made together go in one write, and those made while ZooKeeper is away are sent when it
   * is back (see BookRepairs); resolves once sent (or kept for later).
   */
  async cancel(policy: BucketPolicy, key: string, ticket: unknown): Promise<void> {
    const { book, cost, turn } = ticket as { book: 'shared' | 'local' | 'open'; cost: number; turn: Turn; due: number };
    if (book === 'open') return;
    if (book === 'local') return this.fallback.cancelTokens(this.fallbackPolicy(policy), key, cost, turn);
    // Also while the store closes: close() sends the cancels of the waiters its limiters answered 'closed'.
    return this.repairs.cancel(policy, key, { cost, turn });
  }

  /**
   * Calls `listener` with the book of the bucket of `key` whenever it changes (one ZooKeeper
   * watch per bucket, however many listeners), so that this process's waiters are timed again when
   * asks of other processes go ahead of them or waiters ahead of them leave. Returns a function
   * that stops it.
   */
  watchReservations(policy: BucketPolicy, key: string, listener: (update: BookUpdate) => void): () => void {
    // Timed by the shape the bucket refills by (its last writer's policy), not by the policy this
    // watch began with: after a live policy change every process times the book alike.
    return this.reservationWatch.watch(this.targetOf(policy, key), (seen) =>
      listener(this.bookUpdate(seen.shape === undefined ? policy : { ...policy, ...seen.shape }, 'shared', seen.zxid, seen.tokens, seen.since, seen.book.entries)),
    );
  }

  private fallbackReserve(policy: BucketPolicy, key: string, asks: readonly ReservationAsk[], maxSize: number): ReservationResult {
    this.countFallback(policy, asks.length);
    if (this.options.onUnavailable === 'open') {
      for (const ask of asks) this.noteGiven(policy, key, ask.cost);
      return { outcomes: asks.map((ask) => ({ granted: true, waitMs: 0, due: 0, ticket: { book: 'open', cost: ask.cost } })), tokens: policy.burst, waiting: 0 };
    }
    if (this.options.onUnavailable === 'closed') {
      const retryAfterMs = this.options.unavailableAfterMs;
      return { outcomes: asks.map(() => ({ granted: false, reason: 'unavailable', retryAfterMs })), tokens: 0, waiting: 0 };
    }
    const local = this.fallbackPolicy(policy);
    const { result, book } = this.fallback.reserveTokens(local, key, asks, maxSize);
    result.outcomes.forEach((outcome, i) => outcome.granted && this.noteGiven(policy, key, (asks[i] as ReservationAsk).cost));
    const at = this.local.now();
    return { ...result, outcomes: withTickets(result.outcomes, asks, 'local', (o) => o.waitMs), update: this.bookUpdate(local, 'local', book.seq, result.tokens, at, book.entries) };
  }

  /** {@inheritDoc Store.refund} */
  async refund(policy: BucketPolicy, key: string, amount: number): Promise<void> {
    // Tokens `onUnavailable` gave out go back there first, whenever the refund comes: in a lease they
    // would reach the shared bucket without having left it. (`'open'` gave nothing: nothing goes back.)
    const id = this.leaseId(policy, key);
    const given = this.fallbackGiven.get(id);
    if (given !== undefined) {
      const back = Math.min(given, amount);
      if (given - back > 1e-9) this.fallbackGiven.set(id, given - back);
      else this.fallbackGiven.delete(id);
      if (this.options.onUnavailable === 'local') await this.fallback.refund(this.fallbackPolicy(policy), key, back);
      amount -= back;
      if (amount <= 1e-9) return;
    }
    // A strict bucket's refund needs ZooKeeper; while it is away, the fallback takes it.
    if (!this.available && policy.strict) return this.fallback.refund(this.fallbackPolicy(policy), key, amount);
    const target = this.targetOf(policy, key);
    // While this process has waiters booked in the shared bucket, its takes of the key join them
    // there and none spends the lease: a token given back to the lease would sit unused while they
    // wait (and a later take be refused beside it). It goes to the shared bucket, where the waiters'
    // turns move up by it, as for a strict bucket.
    if (!policy.strict && !(this.available && this.reservationWatch.watching(target))) {
      const lease = this.leaseOf(policy, key);
      // Capped at burst as on every store: the lease and the shared bucket together never hold more
      // (the shared bucket may have refilled meanwhile). Its last look bounds the shared bucket's
      // tokens from above, so the cap errs on giving back less. A lease that never looked (a new one:
      // the key was reset here, or its lease went idle) gives the tokens to the shared bucket instead,
      // or, while ZooKeeper is away, keeps them spent.
      if (Number.isFinite(lease.sharedAt)) {
        const room = policy.burst - lease.sharedEstimate(policy.ratePerMs, policy.burst, this.local.now()) - lease.tokens;
        lease.tokens += Math.max(0, Math.min(amount, room));
        return;
      }
      if (!this.available) return;
    }
    await this.withDeadline(updateBucket(target, ({ tokens }) => (tokens >= policy.burst ? undefined : Math.min(policy.burst, tokens + amount))));
  }

  /** {@inheritDoc Store.peek} */
  async peek(policy: BucketPolicy, key: string): Promise<number> {
    const lease = policy.strict ? undefined : this.leases.get(this.leaseId(policy, key));
    if (lease !== undefined && Number.isFinite(lease.sharedAt)) {
      return Math.min(policy.burst, lease.tokens + lease.sharedEstimate(policy.ratePerMs, policy.burst, this.local.now()));
    }
    if (!this.available) return this.fallback.peek(this.fallbackPolicy(policy), key);
    const stored = await this.withDeadline(readBucket(this.targetOf(policy, key)));
    if (stored === undefined) return policy.burst;
    return storedTokensAt(stored.tokens, stored.since, this.serverClock.now(), policy.burst, refillRate(stored, policy));
  }

  /** {@inheritDoc Store.reset} */
  async reset(policy: BucketPolicy, key: string): Promise<void> {
    const id = this.leaseId(policy, key);
    this.leases.delete(id);
    this.cleanups.delete(id);
    this.strictSeen.delete(id);
    await this.fallback.reset(this.fallbackPolicy(policy), key);
    await this.withDeadline(resetBucket(this.targetOf(policy, key)));
  }

  /** Gives unspent leased tokens back, deletes this process's member node and closes the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    clearTimeout(this.forgetGiven);
    if (this.recovery !== undefined) clearInterval(this.recovery);
    this.policyWatch.close();
    this.reservationWatch.close();
    this.membership.close();
    if (this.available) {
      // Leases go back. Bookings under way return first: a limiter closed just before answers their
      // waiters 'closed' and cancels them; then the waiters that left come out of the books.
      const returns = [...this.leases.values()].map((lease) => this.returnLease(lease));
      await Promise.race([Promise.allSettled([...returns, ...this.reserving]), sleep(this.options.unavailableAfterMs)]);
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.race([this.repairs.flushAll(), sleep(this.options.unavailableAfterMs)]);
    }
    this.repairs.close();
    this.leases.clear();
    this.available = false;
    // Waits for ZooKeeper end: ready() calls fail now (a timer would keep the process alive), and
    // late bookings waiting to be cancelled are dropped (their session ends with this one).
    const waiting = this.waiters;
    this.waiters = [];
    for (const { fail } of waiting) fail?.(storeClosed());
    await this.session.close();
    await this.fallback.close();
  }

  private spend(policy: BucketPolicy, lease: TokenLease, cost: number, now: number): StoreTakeResult {
    lease.tokens = Math.max(0, lease.tokens - cost);
    const members = this.membership.count;
    const chunk = lease.chunkSize(cost, policy, members, this.leaseWindows, now);
    // Fetch the next chunk before this one runs out, so that takes rarely wait for ZooKeeper; but not
    // from a bucket too short to give every member a chunk: its tokens are better left to the takes
    // of the others (a queue may be forming, whose waiters come before this process's later takes).
    const plentiful = lease.sharedEstimate(policy.ratePerMs, policy.burst, now) >= chunk * Math.max(1, members);
    if (plentiful && lease.tokens < chunk / 2 && lease.fetching === undefined && now >= lease.retryAt && this.available) {
      this.fetch(policy, lease, Math.max(1e-9, cost - lease.tokens), now).catch((error) => {
        if (isUnavailable(error)) this.markUnavailable(String(error), true);
      });
    }
    return { taken: true, tokens: Math.min(policy.burst, lease.tokens + lease.sharedEstimate(policy.ratePerMs, policy.burst, now)) };
  }

  private async leasedTake(policy: BucketPolicy, key: string, cost: number): Promise<StoreTakeResult> {
    const lease = this.leaseOf(policy, key);
    for (let round = 0; round < 3; round++) {
      const now = this.local.now();
      if (fits(lease.tokens, cost)) return this.spend(policy, lease, cost, now);
      if (lease.fetching !== undefined) {
        await lease.fetching;
        continue;
      }
      if (now < lease.retryAt) break;
      await this.fetch(policy, lease, cost - lease.tokens, now);
    }
    const now = this.local.now();
    if (fits(lease.tokens, cost)) return this.spend(policy, lease, cost, now);
    const tokens = Math.min(policy.burst, lease.tokens + lease.sharedEstimate(policy.ratePerMs, policy.burst, now));
    return { taken: false, tokens, retryAfterMs: Math.max(0, lease.retryAt - now) };
  }

  /** Takes a chunk from the shared bucket into the lease; one fetch per lease at a time. */
  private fetch(policy: BucketPolicy, lease: TokenLease, need: number, now: number): Promise<void> {
    const target = this.targetOf(policy, lease.key);
    const want = lease.chunkSize(need, policy, this.membership.count, this.leaseWindows, now);
    // Do not ask for less than a few ms of refill: a short bucket is not hammered with writes.
    const minGrab = Math.min(policy.burst, Math.max(need, Math.min(want, policy.ratePerMs * MIN_LEASE_MS)));
    let granted = 0;
    let queued = false;
    const fetching = updateBucket(target, ({ tokens, book }) => {
      queued = hasWaiters(book);
      if (queued || !fits(tokens, minGrab)) return undefined;
      granted = Math.min(want, tokens);
      return tokens - granted;
    }).then((update) => {
      const at = this.local.now();
      if (update.wrote) {
        lease.tokens = Math.min(policy.burst, lease.tokens + granted);
        this.leased.set(policy.name, (this.leased.get(policy.name) ?? 0) + granted);
        this.noteWrite(policy, target, update);
      } else if (queued) {
        lease.retryAt = at + QUEUED_RETRY_MS;
      } else {
        lease.retryAt = at + (minGrab - update.before) / policy.ratePerMs;
        if (lease.retryAt - at > RESET_WATCH_AFTER_MS) this.watchForReset(this.leaseId(policy, lease.key), target.path);
      }
      lease.sharedTokens = update.after;
      lease.sharedAt = at;
    });
    lease.fetching = fetching.finally(() => {
      lease.fetching = undefined;
    });
    return lease.fetching;
  }

  private async strictTake(policy: BucketPolicy, key: string, cost: number): Promise<StoreTakeResult> {
    const id = this.leaseId(policy, key);
    const now = this.local.now();
    // A bucket just seen short cannot have refilled yet: refuse without a round trip.
    const seen = this.strictSeen.get(id);
    if (seen !== undefined) {
      const tokens = Math.min(policy.burst, seen.tokens + (now - seen.at) * policy.ratePerMs);
      if (!fits(tokens, cost)) return { taken: false, tokens };
    }
    const target = this.targetOf(policy, key);
    const update = await updateBucket(target, ({ tokens, book }) => (!hasWaiters(book) && fits(tokens, cost) ? Math.max(0, tokens - cost) : undefined));
    if (update.wrote) {
      this.strictSeen.delete(id);
      this.noteWrite(policy, target, update);
    } else {
      const at = this.local.now();
      this.strictSeen.set(id, { tokens: update.after, at, fullAt: at + (policy.burst - update.after) / policy.ratePerMs });
      if ((cost - update.after) / policy.ratePerMs > RESET_WATCH_AFTER_MS) this.watchForReset(id, target.path);
    }
    return { taken: update.wrote, tokens: update.after };
  }

  /**
   * While this process holds back on a short bucket for long (a strict bucket seen short, or a
   * lease waiting for refill), it watches the bucket's znode: a reset elsewhere (`flowgate reset`,
   * another process's `limiter.reset`) then takes effect here at once instead of after the refill
   * this process expected. A reset deletes the znode, or, with waiters booked, rewrites it; any
   * change ends the holding back (the next take reads the bucket again). One watch per bucket,
   * re-armed while still holding back.
   */
  private watchForReset(id: string, path: string): void {
    if (this.resetWatches.has(id) || this.closed) return;
    this.resetWatches.add(id);
    const stillHoldingBack = (): boolean => this.strictSeen.has(id) || (this.leases.get(id)?.retryAt ?? 0) > this.local.now();
    const reset = (): void => {
      this.strictSeen.delete(id);
      const lease = this.leases.get(id);
      if (lease !== undefined) lease.retryAt = Number.NEGATIVE_INFINITY;
    };
    const watcher = (event: unknown): void => {
      this.resetWatches.delete(id);
      const type = (event as { getType?(): number }).getType?.();
      if (type === NODE_DELETED || type === NODE_DATA_CHANGED) reset();
      else if (stillHoldingBack()) this.watchForReset(id, path);
    };
    this.session.exists(path, watcher).then(
      // Gone already: reset between the read that found it short and this watch. The watch now
      // waits for the bucket's next creation, which clears it.
      (stat) => stat === null && reset(),
      () => this.resetWatches.delete(id),
    );
  }

  /** Runs strict decisions on one bucket one after another, so this process never races itself. */
  private inTurn<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(id) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(id, tail);
    void tail.then(() => {
      if (this.turns.get(id) === tail) this.turns.delete(id);
    });
    return result;
  }

  private fallbackTake(policy: BucketPolicy, key: string, cost: number): Promise<StoreTakeResult> | StoreTakeResult {
    this.countFallback(policy, 1);
    switch (this.options.onUnavailable) {
      case 'open':
        this.noteGiven(policy, key, cost);
        return { taken: true, tokens: policy.burst };
      case 'closed':
        return { taken: false, tokens: 0, reason: 'unavailable', retryAfterMs: this.options.unavailableAfterMs };
      default:
        return this.fallback.take(this.fallbackPolicy(policy), key, cost).then((result) => {
          if (result.taken) this.noteGiven(policy, key, cost);
          return result;
        });
    }
  }

  /** Counts `takes` answered by `onUnavailable` for the limiter of `policy`. */
  private countFallback(policy: BucketPolicy, takes: number): void {
    this.fallbackDecided.set(policy.name, (this.fallbackDecided.get(policy.name) ?? 0) + takes);
  }

  /** Counts tokens `onUnavailable` gave out for a bucket, so that their refunds go back there (see refund()). */
  private noteGiven(policy: BucketPolicy, key: string, cost: number): void {
    const id = this.leaseId(policy, key);
    const given = this.fallbackGiven.get(id);
    // Bounded: past this many buckets, a late refund may land in a lease (as before this count).
    if (given === undefined && this.fallbackGiven.size >= MAX_GIVEN_KEYS) return;
    this.fallbackGiven.set(id, (given ?? 0) + cost);
  }

  /** The policy each process enforces alone while degraded: rate and burst divided by the members. */
  private fallbackPolicy(policy: BucketPolicy): BucketPolicy {
    const members = this.membership.count;
    const id = `${policy.name}\u0000${policy.rate}\u0000${policy.intervalMs}\u0000${policy.burst}\u0000${members}`;
    let scaled = this.fallbackPolicies.get(id);
    if (scaled === undefined) {
      scaled = bucketPolicy(policy.name, policy.rate / members, policy.intervalMs, Math.max(1, Math.ceil(policy.burst / members)));
      this.fallbackPolicies.set(id, scaled);
    }
    return scaled;
  }

  /** Whether ZooKeeper can be used now; waits for it up to `unavailableAfter` since it went away. */
  private async usable(): Promise<boolean> {
    if (this.available) return true;
    if (this.closed) return false;
    const remaining = this.unavailableSince + this.options.unavailableAfterMs - this.local.now();
    if (remaining <= 0) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, remaining);
      this.waiters.push({ wake: done });
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    return this.available;
  }

  private withDeadline<T>(work: Promise<T>): Promise<T> {
    return Promise.race([
      work,
      sleep(this.options.unavailableAfterMs).then(() => {
        throw new ZooKeeperUnavailableError(`flowgate: ZooKeeper did not decide within ${this.options.unavailableAfterMs} ms`);
      }),
    ]);
  }

  /**
   * A decision that waited for a lost connection found ZooKeeper silent once it was back: the
   * outage that began at `since` goes on (its grace is spent), so that what comes next (the same
   * request's queue booking, other decisions) falls back at once instead of waiting again. The
   * recovery check ends it as soon as ZooKeeper answers; `degraded` is announced if it lasts.
   */
  private outageGoesOn(since: number): void {
    if (this.closed || !this.available) return;
    this.available = false;
    this.unavailableSince = since;
    this.announceIfStillDown('ZooKeeper did not answer after the connection came back', this.options.unavailableAfterMs);
    if (this.recovery === undefined) {
      this.recovery = setInterval(() => void this.checkHealth(), 250);
      this.recovery.unref();
    }
  }

  private markUnavailable(reason: string, alreadyWaited: boolean): void {
    if (this.closed) return;
    if (this.available) {
      this.available = false;
      this.unavailableSince = this.local.now() - (alreadyWaited ? this.options.unavailableAfterMs : 0);
      // Announce only when it lasts past the grace period (a failover takes milliseconds).
      this.announceIfStillDown(reason, alreadyWaited ? 0 : this.options.unavailableAfterMs);
    }
    if (this.recovery === undefined) {
      this.recovery = setInterval(() => void this.checkHealth(), 250);
      this.recovery.unref();
    }
  }

  private announceIfStillDown(reason: string, afterMs: number): void {
    const since = this.unavailableSince;
    setTimeout(() => {
      // Still the outage this timer was set for (not a later one, still in its own grace period).
      if (!this.available && !this.closed && !this.announcedDegraded && this.unavailableSince === since) {
        this.announcedDegraded = true;
        this.report.noteState(true);
        this.emit('degraded', { reason: this.refusal ?? reason });
      }
    }, afterMs).unref();
  }

  private async onNewSession(): Promise<void> {
    this.registered = false;
    // A registration still running belongs to the old session: let it end (it may have set
    // `registered` meanwhile), then register anew.
    await this.registering;
    this.registered = false;
    await this.register();
  }

  /**
   * Registers this process with the current session (member node, ZooKeeper's clock, watches) and
   * then counts as available. A registration that fails (a connection lost meanwhile) is tried
   * again by the recovery checks, so the store never stays degraded on a working session.
   */
  private register(): Promise<void> {
    this.registering ??= (async () => {
      try {
        await this.membership.register();
        // The new session has none of the old one's watches, and a fresh member node.
        this.report.reset();
        this.resetWatches.clear();
        this.policyWatch.rearm();
        this.reservationWatch.rearm();
        this.registered = true;
        this.refusal = undefined;
        this.setAvailable();
      } catch (error) {
        this.refusal = isUnavailable(error) ? undefined : refusalOf(error, this.options.connect, this.options.root);
        this.markUnavailable(this.refusal ?? `could not register with ZooKeeper: ${String(error)}`, false);
      } finally {
        this.registering = undefined;
      }
    })();
    return this.registering;
  }

  private async checkHealth(): Promise<void> {
    if (this.closed || this.available) return;
    if (!this.registered) return this.register();
    try {
      await this.session.exists(this.paths.members);
      if (this.membership.count >= 1 && this.serverClock.synced) this.setAvailable();
    } catch {
      // still unreachable: the recovery interval tries again
    }
  }

  private setAvailable(): void {
    if (this.closed) return;
    const degradedMs = this.local.now() - this.unavailableSince;
    this.available = true;
    // Refunds of what the fallback gave come within a minute of the outage, or are forgotten.
    if (this.fallbackGiven.size > 0) {
      clearTimeout(this.forgetGiven);
      this.forgetGiven = setTimeout(() => this.fallbackGiven.clear(), GIVEN_MEMORY_MS).unref();
    }
    if (this.recovery !== undefined) clearInterval(this.recovery);
    this.recovery = undefined;
    if (this.announcedDegraded) {
      this.announcedDegraded = false;
      this.report.noteState(false);
      this.emit('recovered', { degradedMs });
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const { wake } of waiters) wake();
    // Cancels kept while ZooKeeper was away, and bookings whose answer never came.
    void this.repairs.flushAll();
  }

  /** Records a write so that the bucket's znode can be deleted once it has been full long enough. */
  private noteWrite(policy: BucketPolicy, target: BucketTarget, update: BucketUpdate): void {
    const fullAt = update.serverNow + (policy.burst - update.after) / policy.ratePerMs;
    this.cleanups.set(this.leaseId(policy, target.key), { target, fullAt });
  }

  /** Gives idle leases back, and deletes bucket znodes that have been full for `cleanupAfter`. */
  private async sweep(): Promise<void> {
    if (this.closed || this.sweeping) return;
    if (!this.available) return this.dropEmptyLeases();
    this.sweeping = true;
    try {
      await this.sweepOnce();
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * While ZooKeeper is unreachable: forgets the idle leases that hold no tokens (nothing to give
   * back), so that a long outage with many one-off keys does not grow the lease map without bound.
   */
  private dropEmptyLeases(): void {
    const now = this.local.now();
    for (const [id, lease] of this.leases) {
      if (now - lease.lastUsed >= this.leaseIdleMs() && lease.fetching === undefined && lease.tokens <= 0) this.leases.delete(id);
    }
  }

  /** A lease unused this long is given back (or, empty during an outage, forgotten). */
  private leaseIdleMs(): number {
    return Math.max(1000, 4 * this.options.leaseWindowMs);
  }

  private async sweepOnce(): Promise<void> {
    const now = this.local.now();
    const idleMs = this.leaseIdleMs();
    for (const [id, lease] of this.leases) {
      if (now - lease.lastUsed < idleMs || lease.fetching !== undefined) continue;
      this.leases.delete(id);
      this.returnLease(lease).catch(() => undefined);
    }
    for (const [id, seen] of this.strictSeen) if (now >= seen.fullAt) this.strictSeen.delete(id);
    await this.report.report(now).catch(() => undefined);
    // Buckets nobody here remembers (a stopped process's): one member walks a few shards now and then.
    const janitorEvery = Math.min(60_000, Math.max(1000, this.options.cleanupAfterMs));
    if (this.membership.isFirst && now - this.janitorAt >= janitorEvery) {
      this.janitorAt = now;
      for (const janitor of this.janitors) await janitor.pass().catch(() => undefined);
    }
    const serverNow = this.serverClock.now();
    for (const [id, entry] of this.cleanups) {
      // Unreachable now: leave the rest for a later sweep rather than wait on each call.
      if (!this.available) break;
      if (serverNow < entry.fullAt + this.options.cleanupAfterMs || this.leases.has(id)) continue;
      this.cleanups.delete(id);
      try {
        // Read first: the znode may have been deleted and made again since this process wrote it
        // (a reset), and a new one counts its versions from 0 again. Deleted only if full now.
        const { data, stat } = await this.session.getData(entry.target.path);
        if (!bucketIdleFor(data, stat, this.serverClock.now(), this.options.cleanupAfterMs)) continue;
        this.counter.writes++;
        await this.session.remove(entry.target.path, stat.version);
      } catch {
        // Written since (BAD_VERSION: its writer cleans up), already gone, or unreachable: leave it.
      }
    }
  }

  /** Returns a lease's unspent tokens to the shared bucket. */
  private async returnLease(lease: TokenLease): Promise<void> {
    const amount = lease.tokens;
    lease.tokens = 0;
    if (amount <= 0) return;
    const target = this.targetOf(lease.policy, lease.key);
    // Tokens given back would let a newcomer overtake the waiters: keep them spent.
    const update = await updateBucket(target, ({ tokens, book }) => (hasWaiters(book) ? undefined : Math.min(lease.policy.burst, tokens + amount)));
    if (update.wrote) this.noteWrite(lease.policy, target, update);
  }

  private leaseId(policy: BucketPolicy, key: string): string {
    return `${policy.name}\u0000${key}`;
  }

  private leaseOf(policy: BucketPolicy, key: string): TokenLease {
    const id = this.leaseId(policy, key);
    let lease = this.leases.get(id);
    if (lease === undefined) {
      lease = new TokenLease(policy, key, this.local.now(), this.options.leaseWindowMs);
      this.leases.set(id, lease);
    }
    return lease;
  }

  private targetOf(policy: BucketPolicy, key: string): BucketTarget {
    return { session: this.session, clock: this.serverClock, acls: this.acls, policy, key, path: this.paths.bucket(policy.name, key), counter: this.counter };
  }
}

/** Buckets whose fallback tokens are remembered for their refunds, at most. */
const MAX_GIVEN_KEYS = 100_000;
/** How long after an outage the fallback's tokens are remembered for their refunds. */
const GIVEN_MEMORY_MS = 60_000;

/**
 * What to tell about a registration that ZooKeeper answered with a refusal: the server is there, so
 * "not reachable" would mislead. NO_AUTH: the root's ACL wants a credential (`auth`); NO_NODE: the
 * chroot of `connect` does not exist (ZooKeeper does not create one).
 */
function refusalOf(error: unknown, connect: string, root: string): string {
  const code = zkCode(error);
  if (code === ZkCode.NO_AUTH) {
    return `ZooKeeper refused flowgate's registration under ${root} with NO_AUTH: the ACL of its nodes does not let this client write (made with a credential? give the same one as the \`auth\` option)`;
  }
  const chroot = connect.includes('/') ? connect.slice(connect.indexOf('/')) : undefined;
  if (code === ZkCode.NO_NODE && chroot !== undefined) {
    return `ZooKeeper refused flowgate's registration with NO_NODE: the chroot ${chroot} of \`connect\` does not exist (ZooKeeper does not create it; create it, e.g. with zkCli.sh create ${chroot} "")`;
  }
  return `ZooKeeper refused flowgate's registration under ${root}: ${error instanceof Error ? error.message : String(error)}`;
}

/** `'late'` when `work` has not settled within `ms`; `undefined` when it has (settled either way). */
function beforeTimeLeft(work: Promise<unknown>, ms: number): Promise<'late' | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, ms))));
  return Promise.race([work.then(noValue, noValue), late]).finally(() => clearTimeout(timer));
}

function noValue(): undefined {
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// Typed event methods: `store.on('degraded', (e) => e.reason)`.
export interface ZooKeeperStore {
  on<E extends keyof ZooKeeperStoreEvents>(event: E, listener: (payload: ZooKeeperStoreEvents[E]) => void): this;
  once<E extends keyof ZooKeeperStoreEvents>(event: E, listener: (payload: ZooKeeperStoreEvents[E]) => void): this;
  off<E extends keyof ZooKeeperStoreEvents>(event: E, listener: (payload: ZooKeeperStoreEvents[E]) => void): this;
  emit<E extends keyof ZooKeeperStoreEvents>(event: E, payload: ZooKeeperStoreEvents[E]): boolean;
}

/** A booking write on its way: its asks, its booking mark, what its latest attempt decided, and whether it was given up. */
interface BookingAttempt {
  readonly mark: number;
  readonly asks: readonly ReservationAsk[];
  abandoned: boolean;
  /** The compare-and-set loop (without the deadline). */
  write?: Promise<BucketUpdate>;
  /** Whether its latest attempt wrote (or was writing) a booking, and what that booking decided. */
  writing?: boolean;
  result?: ReservationResult;
}

/** The waiters a booking attempt put in the book (those given a turn), with their costs. */
function bookedTurns(attempt: BookingAttempt): BookedTurn[] {
  const turns: BookedTurn[] = [];
  attempt.result?.outcomes.forEach((outcome, i) => {
    if (outcome.granted && outcome.turn !== undefined) turns.push({ cost: (attempt.asks[i] as ReservationAsk).cost, turn: outcome.turn });
  });
  return turns;
}

/** Outcomes with the tickets `cancel` needs, their turns marked as of `book` (the same turn object in both). */
function withTickets(outcomes: readonly ReservationOutcome[], asks: readonly ReservationAsk[], book: string, waitOf: (o: ReservationOutcome & { granted: true }) => number): ReservationOutcome[] {
  return outcomes.map((o, i) => {
    if (!o.granted) return o;
    const turn = o.turn === undefined ? undefined : { ...o.turn, book };
    return { ...o, waitMs: waitOf(o), ...(turn !== undefined && { turn }), ticket: { book, cost: (asks[i] as ReservationAsk).cost, turn } };
  });
}

/**
 * Whether waiters (of any process) are in a bucket's book, also ones paid but held by an order
 * grace: they come first, so the direct path (a chunk fetch, a strict take, a lease given back)
 * leaves the bucket's tokens alone.
 */
function hasWaiters(book: Book): boolean {
  return book.entries.length > 0;
}

/** `asks` without an order grace (nor one while the queue forms). */
function withoutGrace(asks: readonly ReservationAsk[]): readonly ReservationAsk[] {
  return asks.some((ask) => ask.graceMs !== undefined || ask.formingGraceMs !== undefined) ? asks.map(({ graceMs: _grace, formingGraceMs: _forming, ...ask }) => ask) : asks;
}

/** `asks` as they stand `elapsedMs` after they were made: waited that much longer, that much less left to wait. */
function agedAsks(asks: readonly ReservationAsk[], elapsedMs: number): readonly ReservationAsk[] {
  if (!(elapsedMs > 0)) return asks;
  return asks.map((ask) => ({ ...ask, waitedMs: (ask.waitedMs ?? 0) + elapsedMs, maxWaitMs: Math.max(0, ask.maxWaitMs - elapsedMs) }));
}

brand(ZooKeeperStore, 'ZooKeeperStore');

/** The error of a wait for ZooKeeper that the store's close() ended. */
function storeClosed(): FlowgateError {
  return new FlowgateError('ERR_FLOWGATE_CLOSED', 'flowgate: the ZooKeeperStore was closed before ZooKeeper was ready');
}
