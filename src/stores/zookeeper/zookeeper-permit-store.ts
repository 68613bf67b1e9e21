// Cluster-wide concurrency permits in ZooKeeper: one version-checked znode per key, claimed in chunks by each process.

import { randomUUID } from 'node:crypto';
import { registerPermitStoreFactory } from '../../concurrency/permit-store-for.js';
import type { ConcurrencyPolicy, PermitResult, PermitStore } from '../../concurrency/permit-store.js';
import { parseDuration, timerDuration, type Duration } from '../../duration.js';
import { FlowgateConfigError } from '../../errors.js';
import { rejectUnknownOptions } from '../../limiter-options.js';
import { claim, decodePermits, encodePermits, holderName, memberOf, type Claim, type PermitData } from './permit-codec.js';
import { PermitLease } from './permit-lease.js';
import type { UnavailablePolicy } from './zookeeper-store-options.js';
import { ZooKeeperStore, type StoreConnection } from './zookeeper-store.js';
import { ZkCode, ZooKeeperUnavailableError, isUnavailable, zkCode } from './zookeeper-session.js';
import { nodeName, ZnodePaths } from './znode-paths.js';
import { hasBrand } from '../../brand.js';

/** Options of {@link ZooKeeperPermitStore}. */
export interface ZooKeeperPermitStoreOptions {
  /**
   * How often each process gives back the permits it holds but did not need (beyond its recent
   * peak, or beyond an equal share among the members). Default `'500ms'`.
   */
  returnAfter?: Duration;
  /** While ZooKeeper is unreachable: `'local'`, `'open'` or `'closed'`. Default: the store's. */
  onUnavailable?: UnavailablePolicy;
  /** How long an acquire may wait for ZooKeeper before `onUnavailable` applies. Default: the store's. */
  unavailableAfter?: Duration;
}

/** Every compare-and-set attempt on a permit znode lost its race. */
export class PermitContentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermitContentionError';
  }
}

/** Tickets: which pool a permit came from, so that its release goes back there. */
const SHARED = 'shared';
const LOCAL = 'local';
const OPEN = 'open';
const PERSISTENT = 0;
const MAX_ATTEMPTS = 50;
/** A key just seen full is refused locally this long before ZooKeeper is asked again. */
const FULL_RECHECK_MS = 25;
/** After a ZooKeeper call failed, acquires use the fallback this long before trying again. */
const FAILED_RECHECK_MS = 250;
/** Retry hint of a refusal caused by contention on the znode. */
const CONTENTION_RETRY_MS = 20;
const KNOWN = ['returnAfter', 'onUnavailable', 'unavailableAfter'];

/** One read of a permit znode. */
interface StoredPermits {
  readonly data: PermitData;
  readonly version: number;
}

/**
 * What a write does to this process's entry in the waiting list: `'grow'` lists it when the claim
 * leaves no permit free for a waiting acquire (and unlists it otherwise), `'clear'` unlists it,
 * `'keep'` leaves it as it is.
 */
type WantMode = 'grow' | 'clear' | 'keep';

/** A claim, and what the znode said about waiters. */
interface PermitUpdate extends Claim {
  /** Another holder is listed as waiting. */
  readonly othersWaiting: boolean;
  /** This process is listed as waiting. */
  readonly wanting: boolean;
}

/**
 * The permits of concurrency limits, shared by every process on a {@link ZooKeeperStore}: at most
 * `max` requests in flight per key across the cluster.
 *
 * One persistent znode per (limit, key), `<root>/permits/<limit>/<shard>/<key>`, holds
 * `{ v: 1, k: key, max, held: { <holder>: count } }` and changes only by version-checked
 * `setData`. A process claims a chunk of permits there (its count is written before any request
 * uses one), hands them to requests locally, takes them back when the requests end, and gives idle
 * ones back at each sweep. A process refused for lack of a free permit lists itself in `w`; while
 * anyone is listed, processes over an equal share stop reusing permits beyond it and give them
 * back as their requests end, so that no process is starved. Holders whose member node is gone
 * (their process died and its session expired) are dropped by the next write, which is how
 * ZooKeeper releases a dead process's permits.
 *
 * While ZooKeeper is unreachable, `onUnavailable` applies: `'local'` admits up to
 * `ceil(max / members)` requests per key in this process, `'open'` admits, `'closed'` refuses.
 */
export class ZooKeeperPermitStore implements PermitStore {
  /** ZooKeeper writes made, and compare-and-set races lost (each retried). */
  readonly counter = { writes: 0, conflicts: 0 };
  private readonly store: ZooKeeperStore;
  private readonly connection: StoreConnection;
  private readonly membersPath: string;
  private readonly self: string;
  private readonly leases = new Map<string, PermitLease>();
  private readonly onUnavailable: UnavailablePolicy;
  private readonly unavailableAfterMs: number;
  /** How long a waiter seen in a znode makes the holders share fairly: two sweeps. */
  private readonly contendedMs: number;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly detach: () => void;
  /** Counts sessions: a claim that completes in a later session than it started is not trusted. */
  private generation = 0;
  /** The store announced `degraded` and not yet `recovered`. */
  private announcedDown = false;
  private downSince: number | undefined;
  private failedAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  /** Validates the options (throwing FlowgateConfigError); shares the store's session. */
  constructor(store: ZooKeeperStore, options: ZooKeeperPermitStoreOptions = {}) {
    if (!hasBrand<ZooKeeperStore>(store, 'ZooKeeperStore')) throw new FlowgateConfigError('store', store, 'must be a ZooKeeperStore');
    if (options === null || typeof options !== 'object') throw new FlowgateConfigError('options', options, 'must be an object');
    rejectUnknownOptions(options, KNOWN);
    this.store = store;
    this.connection = store.connection();
    if (!this.connection.countAsMember) {
      throw new FlowgateConfigError('countAsMember', false, 'a store that does not count as a member makes no concurrency decisions: give concurrency limits a store with countAsMember: true, the default');
    }
    this.membersPath = new ZnodePaths(this.connection.root).members;
    this.self = holderName(this.connection.memberId, randomUUID().slice(0, 8));
    const inherited = this.connection;
    this.onUnavailable = options.onUnavailable ?? inherited.onUnavailable;
    if (!['local', 'open', 'closed'].includes(this.onUnavailable)) {
      throw new FlowgateConfigError('onUnavailable', this.onUnavailable, "must be 'local', 'open' or 'closed'");
    }
    this.unavailableAfterMs = options.unavailableAfter === undefined ? inherited.unavailableAfterMs : parseDuration(options.unavailableAfter, 'unavailableAfter');
    if (this.unavailableAfterMs < 50) throw new FlowgateConfigError('unavailableAfter', options.unavailableAfter, 'must be at least 50 ms (as for ZooKeeperStore)');
    // A longer timer fires after 1 ms in Node: every acquire would give up on ZooKeeper at once.
    timerDuration(this.unavailableAfterMs, 'unavailableAfter', options.unavailableAfter);
    const returnAfterMs = parseDuration(options.returnAfter ?? '500ms', 'returnAfter');
    if (returnAfterMs < 10 || returnAfterMs > 60_000) throw new FlowgateConfigError('returnAfter', options.returnAfter, 'must be from 10 ms to 1 minute');
    this.contendedMs = 2 * returnAfterMs;

    const session = this.connection.session;
    const onSession = (): void => this.onNewSession();
    const onDegraded = (): void => void (this.announcedDown = true);
    const onRecovered = (): void => {
      this.announcedDown = false;
      this.downSince = undefined;
    };
    session.on('session', onSession);
    store.on('degraded', onDegraded);
    store.on('recovered', onRecovered);
    this.detach = () => {
      session.off('session', onSession);
      store.off('degraded', onDegraded);
      store.off('recovered', onRecovered);
    };
    this.sweeper = setInterval(() => this.sweep(), returnAfterMs);
    this.sweeper.unref();
  }

  /** {@inheritDoc PermitStore.acquireSync} */
  acquireSync(policy: ConcurrencyPolicy, key: string): PermitResult | undefined {
    const lease = this.leases.get(leaseId(policy, key));
    if (lease === undefined || !lease.canHandOut(this.store.members, performance.now()) || !this.healthy()) return undefined;
    lease.take();
    return { acquired: true, remaining: this.remaining(lease), ticket: SHARED };
  }

  /** {@inheritDoc PermitStore.acquire} */
  async acquire(policy: ConcurrencyPolicy, key: string): Promise<PermitResult> {
    // A closed store hands out nothing (not even through the fallback).
    if (this.closed) return { acquired: false, remaining: 0, reason: 'closed' };
    const deadline = performance.now() + this.unavailableAfterMs;
    const usable = await this.usable();
    // Looked up after the wait: the sweep may have forgotten an idle lease meanwhile, and a second
    // lease of the same key would count its permits apart.
    const lease = this.leaseOf(policy, key);
    if (!usable) return this.fallback(lease);
    try {
      return await this.acquireShared(lease, deadline);
    } catch (error) {
      if (error instanceof PermitContentionError) return { acquired: false, remaining: 0, retryAfterMs: CONTENTION_RETRY_MS };
      if (!isUnavailable(error)) throw error;
      this.failedAt = performance.now();
      return this.fallback(lease);
    }
  }

  /** {@inheritDoc PermitStore.release} */
  release(policy: ConcurrencyPolicy, key: string, ticket: unknown): void {
    const lease = this.leases.get(leaseId(policy, key));
    if (lease === undefined) return;
    if (ticket === LOCAL) lease.fallbackInUse = Math.max(0, lease.fallbackInUse - 1);
    if (ticket !== SHARED) return;
    lease.inUse = Math.max(0, lease.inUse - 1);
    // Closed: no sweep runs any more, and the store's session (which would take the claim with it) may live on.
    if (this.closed) return this.returnAfterClose(lease);
    // Others wait: a permit beyond this process's share goes back now, not at the next sweep.
    const surplus = lease.surplus(this.store.members, performance.now());
    if (surplus > 0 && lease.busy === undefined && this.healthy()) this.shrink(lease, surplus);
  }

  /** {@inheritDoc PermitStore.inFlight} */
  inFlight(policy: ConcurrencyPolicy, key: string): number {
    const lease = this.leases.get(leaseId(policy, key));
    return lease === undefined ? 0 : lease.inUse + lease.fallbackInUse;
  }

  /** Permits this process claims for `key` in ZooKeeper now (in use or idle), for tests and operators. */
  held(policy: ConcurrencyPolicy, key: string): number {
    return this.leases.get(leaseId(policy, key))?.held ?? 0;
  }

  /**
   * Gives back every idle permit and stops. The permits of requests still in flight are given back
   * as those requests release them (or go when the store's session ends).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.detach();
    if (!this.store.stats().available) return;
    const returns = [...this.leases.values()]
      .filter((lease) => lease.held > lease.inUse || lease.wanting || lease.busy !== undefined)
      .map(async (lease) => {
        // A release may start a give-back meanwhile: wait until none is in flight, then start this one at once.
        while (lease.busy !== undefined) await lease.busy;
        if (lease.held > lease.inUse || lease.wanting) {
          const op = this.update(lease, lease.inUse, 'clear').then((result) => {
            lease.held = result.granted;
            lease.wanting = result.wanting;
          });
          this.track(lease, op);
          await op;
        }
      });
    await Promise.race([Promise.allSettled(returns), sleep(this.unavailableAfterMs)]);
  }

  /**
   * After {@link close}: gives back the permits of `lease` that requests have released, once the
   * write in flight (if any) is done. Without this, a permit held at close would stay claimed for
   * as long as the store's session lives, refused to every process.
   */
  private returnAfterClose(lease: PermitLease): void {
    if (lease.busy !== undefined) {
      void lease.busy.then(() => this.returnAfterClose(lease));
      return;
    }
    const idle = lease.held - lease.returning - lease.inUse - lease.fallbackInUse;
    if (idle > 0 && this.store.stats().available) this.shrink(lease, idle, 'clear');
  }

  /** Hands out a claimed permit, claiming a chunk first when none is free; refuses when the key is full. */
  private async acquireShared(lease: PermitLease, deadline: number): Promise<PermitResult> {
    const members = (): number => this.store.members;
    // While others wait, a process at its share claims no more.
    const mayClaim = (now: number): boolean => now >= lease.fullUntil && !(lease.contended(now) && lease.held >= lease.share(members()));
    lease.wanted++;
    try {
      // Ends: a claim that finds no room sets fullUntil, one that finds room frees a permit, and the deadline bounds the rest.
      while (!lease.canHandOut(members(), performance.now()) && mayClaim(performance.now())) {
        // One claim at a time per lease: wait for the one in flight, then look again.
        await beforeDeadline(lease.busy ?? this.grow(lease), deadline, this.unavailableAfterMs);
      }
    } finally {
      lease.wanted--;
    }
    // Decided within the deadline: take the permit now, or nothing (a late claim only adds idle permits).
    if (lease.canHandOut(members(), performance.now())) {
      lease.take();
      return { acquired: true, remaining: this.remaining(lease), ticket: SHARED };
    }
    lease.refused = true;
    return { acquired: false, remaining: this.remaining(lease) };
  }

  /** Claims a chunk more for `lease`. */
  private grow(lease: PermitLease): Promise<void> {
    const generation = this.generation;
    const desired = lease.wantedHeld(this.store.members, performance.now());
    const op = this.update(lease, desired, 'grow').then(
      (result) => {
        this.settle(lease, generation, result);
        if (lease.free < 1) lease.fullUntil = performance.now() + FULL_RECHECK_MS;
      },
      (error: unknown) => {
        // The write may have happened: ZooKeeper may record more for us than we think. Write ours again later.
        lease.dirty = true;
        throw error;
      },
    );
    this.track(lease, op);
    return op;
  }

  /** Gives `count` idle permits of `lease` back (and unlists this process as waiting, with `'clear'`). */
  private shrink(lease: PermitLease, count: number, want: WantMode = 'keep'): void {
    const generation = this.generation;
    lease.returning += count;
    const op = this.update(lease, lease.held - count, want).then(
      (result) => {
        lease.returning -= count;
        this.settle(lease, generation, result);
      },
      () => {
        // Unknown outcome: count them as given back (never more than ZooKeeper records), and write again later.
        lease.returning -= count;
        lease.held -= count;
        lease.dirty = true;
      },
    );
    this.track(lease, op);
  }

  /**
   * Writes `held` again: after a write whose outcome is unknown, to unlist this process as waiting
   * (`'clear'`), or just to look at the znode for waiters (nothing is written then).
   */
  private reconcile(lease: PermitLease, want: WantMode = 'keep'): void {
    const generation = this.generation;
    const op = this.update(lease, lease.held, want).then(
      (result) => this.settle(lease, generation, result),
      () => undefined,
    );
    this.track(lease, op);
  }

  /** Applies a completed claim, unless a new session began meanwhile (then only permits in use are kept). */
  private settle(lease: PermitLease, generation: number, result: PermitUpdate): void {
    lease.clusterFree = result.free;
    lease.wanting = result.wanting;
    if (result.othersWaiting) lease.contendedUntil = performance.now() + this.contendedMs;
    if (generation !== this.generation) {
      lease.held = Math.min(lease.inUse, result.granted);
      lease.dirty = true;
      return;
    }
    lease.held = result.granted;
    lease.dirty = false;
  }

  private track(lease: PermitLease, op: Promise<void>): void {
    const busy = op.then(
      () => undefined,
      () => undefined,
    );
    lease.busy = busy;
    void busy.then(() => {
      if (lease.busy === busy) lease.busy = undefined;
    });
  }

  /**
   * One version-checked read-modify-write of the key's znode: drops holders whose process is gone,
   * then claims `desired` permits in all for this process (as many as fit) and lists or unlists it
   * as waiting (`want`). Writes nothing when nothing changes; deletes the znode when nobody holds
   * anything and nobody waits.
   */
  private async update(lease: PermitLease, desired: number, want: WantMode): Promise<PermitUpdate> {
    const { session } = this.connection;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.read(lease);
      const held: Record<string, number> = current === undefined ? {} : { ...current.data.held };
      const waiting = new Set(current?.data.waiting ?? []);
      const pruned = await this.pruneDead(held, waiting);
      const result = claim(held, this.self, desired, lease.policy.max);
      const listed = waiting.has(this.self);
      // Short: the claim leaves no permit for an acquire waiting on it.
      const wanting = want === 'keep' ? listed : want === 'grow' && result.granted - lease.inUse - lease.returning < 1;
      if (wanting) waiting.add(this.self);
      else waiting.delete(this.self);
      const update = { ...result, wanting, othersWaiting: [...waiting].some((holder) => holder !== this.self) };
      if (!pruned && wanting === listed && result.granted === (held[this.self] ?? 0)) return update;
      const empty = Object.keys(result.held).length === 0 && waiting.size === 0;
      if (current === undefined && empty) return update;
      const data = encodePermits({ key: lease.key, max: lease.policy.max, held: result.held, waiting: [...waiting] });
      try {
        this.counter.writes++;
        if (current === undefined) await this.create(lease.path, data);
        else if (empty) await session.remove(lease.path, current.version);
        else await session.setData(lease.path, data, current.version);
        return update;
      } catch (error) {
        const code = zkCode(error);
        if (code !== ZkCode.BAD_VERSION && code !== ZkCode.NODE_EXISTS && code !== ZkCode.NO_NODE) throw error;
        this.counter.conflicts++;
        // Lost a race with another process: back off a little, with jitter, and read again.
        if (attempt > 2) await sleep(Math.random() * Math.min(20, attempt * 2));
      }
    }
    throw new PermitContentionError(`flowgate: too much contention on ${lease.path}: ${MAX_ATTEMPTS} compare-and-set attempts lost`);
  }

  private async read(lease: PermitLease): Promise<StoredPermits | undefined> {
    let reply;
    try {
      reply = await this.connection.session.getData(lease.path);
    } catch (error) {
      if (zkCode(error) === ZkCode.NO_NODE) return undefined;
      throw error;
    }
    const data = decodePermits(reply.data);
    if (data.key !== lease.key) throw new Error(`flowgate: two keys hash to the same znode ${lease.path}`);
    return { data, version: reply.stat.version };
  }

  /**
   * Removes the holders whose process is gone from `held` and `waiting`; true when it removed any.
   * A holder missing from the member list is dropped only when its member node is really gone: the
   * list may lag behind a process that just joined, and dropping a live holder could over-admit.
   */
  private async pruneDead(held: Record<string, number>, waiting: Set<string>): Promise<boolean> {
    const live = new Set(this.connection.liveMembers());
    const suspects = [...new Set([...Object.keys(held), ...waiting])].filter((holder) => holder !== this.self && !live.has(memberOf(holder)));
    if (suspects.length === 0) return false;
    const gone = await Promise.all(suspects.map(async (holder) => (await this.connection.session.exists(`${this.membersPath}/${memberOf(holder)}`)) === null));
    let pruned = false;
    suspects.forEach((holder, i) => {
      if (gone[i] === true) {
        delete held[holder];
        waiting.delete(holder);
        pruned = true;
      }
    });
    return pruned;
  }

  private async create(path: string, data: Buffer): Promise<void> {
    const { session, acls } = this.connection;
    try {
      await session.create(path, data, PERSISTENT, acls);
    } catch (error) {
      if (zkCode(error) !== ZkCode.NO_NODE) throw error;
      await session.mkdirp(path.slice(0, path.lastIndexOf('/')), acls);
      await session.create(path, data, PERSISTENT, acls);
    }
  }

  /**
   * For each lease: gives back what it did not need (beyond its recent peak, or beyond its share
   * while others wait), unlists it as waiting once no acquire was refused since the last sweep,
   * writes again what may be wrong, looks for waiters when it holds more than its share, and
   * forgets it when it is idle. At most one ZooKeeper call per lease per sweep.
   */
  private sweep(): void {
    if (this.closed) return;
    const healthy = this.healthy();
    const members = this.store.members;
    const now = performance.now();
    for (const [id, lease] of this.leases) {
      if (lease.busy !== undefined) continue;
      if (lease.idle) {
        this.leases.delete(id);
        continue;
      }
      if (!healthy) continue;
      const keep = lease.keep(members, now);
      const refused = lease.refused;
      lease.peak = lease.inUse;
      lease.refused = false;
      const want: WantMode = refused ? 'keep' : 'clear';
      if (lease.held > keep) this.shrink(lease, lease.held - keep, want);
      else if (lease.dirty || (lease.wanting && !refused) || lease.held > lease.share(members)) this.reconcile(lease, want);
    }
  }

  /** A new session: the last one expired, and other processes may have dropped this process's claims. */
  private onNewSession(): void {
    this.generation++;
    for (const lease of this.leases.values()) {
      // Keep counting the requests still in flight; claim them again at the next write.
      lease.held = Math.min(lease.held, lease.inUse + lease.fallbackInUse);
      lease.dirty = true;
    }
  }

  /** The decision while ZooKeeper is unreachable. */
  private fallback(lease: PermitLease): PermitResult {
    if (this.onUnavailable === 'open') return { acquired: true, remaining: lease.policy.max, ticket: OPEN };
    if (this.onUnavailable === 'closed') return { acquired: false, remaining: 0, reason: 'unavailable', retryAfterMs: this.unavailableAfterMs };
    // 'local': this process's share of the limit, counting every request of the key it has in flight.
    const cap = Math.max(1, Math.ceil(lease.policy.max / this.store.members));
    const inFlight = lease.inUse + lease.fallbackInUse;
    if (inFlight >= cap) return { acquired: false, remaining: 0 };
    lease.fallbackInUse++;
    return { acquired: true, remaining: cap - inFlight - 1, ticket: LOCAL };
  }

  /** Whether ZooKeeper can be used now; waits for it up to `unavailableAfter` since it went away. */
  private async usable(): Promise<boolean> {
    if (this.closed) return false;
    const now = performance.now();
    if (now - this.failedAt < FAILED_RECHECK_MS) return false;
    if (this.store.stats().available) {
      this.downSince = undefined;
      return true;
    }
    if (this.announcedDown) return false;
    this.downSince ??= now;
    const wait = this.downSince + this.unavailableAfterMs - now;
    if (wait <= 0) return false;
    await this.store.ready(wait).catch(() => undefined);
    return this.store.stats().available;
  }

  /** Whether free claimed permits may be handed out without asking ZooKeeper. */
  private healthy(): boolean {
    return !this.closed && performance.now() - this.failedAt >= FAILED_RECHECK_MS && this.store.stats().available;
  }

  /** Permits free for the key as this process knows them: its own idle ones and the cluster's unclaimed ones at the last look. */
  private remaining(lease: PermitLease): number {
    return Math.min(lease.policy.max, Math.max(0, lease.free) + lease.clusterFree);
  }

  private leaseOf(policy: ConcurrencyPolicy, key: string): PermitLease {
    const id = leaseId(policy, key);
    let lease = this.leases.get(id);
    if (lease === undefined) {
      lease = new PermitLease(policy, key, permitPath(this.connection.root, policy.name, key));
      this.leases.set(id, lease);
    }
    return lease;
  }
}

/** The znode of (limit, key): `<root>/permits/<limit>/<shard>/<key>`, names hashed, 256 shards per limit like buckets. */
export function permitPath(root: string, limit: string, key: string): string {
  const name = nodeName(key);
  const shard = (Buffer.from(name, 'base64url')[0] as number).toString(16).padStart(2, '0');
  return `${root}/permits/${nodeName(limit)}/${shard}/${name}`;
}

function leaseId(policy: ConcurrencyPolicy, key: string): string {
  return `${policy.name}\u0000${key}`;
}


/** `work`, or a ZooKeeperUnavailableError when it has not settled by `deadline` (a local clock reading). */
function beforeDeadline<T>(work: Promise<T>, deadline: number, budgetMs: number): Promise<T> {
  const left = deadline - performance.now();
  if (left <= 0) return Promise.reject(new ZooKeeperUnavailableError(`flowgate: ZooKeeper did not decide within ${budgetMs} ms`));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ZooKeeperUnavailableError(`flowgate: ZooKeeper did not decide within ${budgetMs} ms`)), left);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// A ZooKeeperStore given to a concurrency limit (or to an adapter's `concurrency`) keeps its permits here.
registerPermitStoreFactory((store) => (hasBrand<ZooKeeperStore>(store, 'ZooKeeperStore') ? new ZooKeeperPermitStore(store) : undefined));
