// The options of createLimiter, their defaults, and their validation at construction time.

import type { Clock } from './clock.js';
import { parseDuration, type Duration } from './duration.js';
import { FlowgateConfigError } from './errors.js';
import { bucketPolicy, type BucketPolicy } from './policy.js';
import type { Store } from './store.js';

/** Options of the overflow queue: where takes over the limit wait for tokens instead of failing. */
export interface QueueOptions {
  /** The most takes that may wait at once per key; the next one is rejected with `'queue-full'`. Default 100. */
  maxSize?: number;
  /**
   * The longest a take may wait. A take that cannot be served in time, given its place in the
   * queue and the refill rate, is rejected at once. Default `'10s'`.
   */
  maxWait?: Duration;
  /**
   * With the ZooKeeper store: the shortest time a process gathers its waiting takes of one key
   * before it reserves tokens for all of them in one write. While the queue ahead is long it
   * gathers longer by itself (until shortly before the first waiter's turn), and the batch still
   * takes its waiters' places by arrival. A longer window means fewer ZooKeeper writes while the
   * queue is short, and waiters of other processes may then overtake by up to the window. Default
   * `'5ms'`; at most `'1s'`. (The memory store's queue needs no batching and ignores it.)
   */
  batchWindow?: Duration;
  /**
   * With the ZooKeeper store: book this process's takes by priority in the shared queue, so that
   * they go ahead of waiting takes of lower priorities in every process. Without it, this process
   * books its takes at priority 0, and priorities order its own waiters among themselves. Set it in
   * every process that shares the limit. Default `false`;
   * the HTTP adapters turn it on when their `priority` option is given. (The memory store's queue
   * always orders by priority and ignores it.)
   */
  priorities?: boolean;
  /**
   * With the ZooKeeper store and more than one member: a waiting take is served no earlier than
   * this long after it arrived, even when its tokens are there sooner. Until then a take that
   * arrived earlier in another process, whose booking is still on its way to ZooKeeper (a direct
   * try on a cold key, a lost race), can still take its place ahead. Not set (the default): 100 ms,
   * but only for the takes that arrive within 100 ms of the moment the key's queue formed (the
   * same moment for every process, kept in the bucket's book); later takes wait for their tokens
   * only. Set: this grace for every take that goes through the queue (each waits at least this
   * long, even one whose tokens are there, and a key's takes go through the queue for `maxWait`
   * after it last queued). `0`: none, not even while the queue forms. At most `'1s'` and
   * `maxWait`. (The memory store's queue is one process's, strictly ordered, and ignores it.)
   */
  orderGrace?: Duration;
}

/** Options of {@link createLimiter}. */
export interface LimiterOptions {
  /** Tokens added per `interval`: the sustained rate. Required; > 0. */
  rate: number;
  /** The refill interval. Default `'1s'`. */
  interval?: Duration;
  /** Bucket capacity: how many tokens may be spent at once. An integer >= 1; default `ceil(rate)`. */
  burst?: number;
  /** Let takes over the limit wait in a FIFO per key: `true` for defaults, or the queue's bounds. Default off. */
  queue?: boolean | QueueOptions;
  /** Where buckets live. Default: a new {@link MemoryStore} owned (and closed) by the limiter. */
  store?: Store;
  /** The limiter's name: the policy name in headers and the bucket namespace in a shared store. Default `'default'`. */
  name?: string;
  /** The clock for refill and waiting (tests and simulations). Default: monotonic. */
  clock?: Clock;
  /**
   * With a shared store: make every take one atomic update of the shared bucket instead of
   * spending leased chunks locally. Exact, and one ZooKeeper write per take: for low rates such as
   * login attempts. Default false. (The memory store is always exact.)
   */
  strict?: boolean;
  /**
   * Shadow mode: decisions are computed, counted (events, metrics) and put in headers, but nothing is
   * rejected or delayed: a take over the limit is admitted with `wouldReject` set. For trying a new
   * limit on live traffic before enforcing it. Default false.
   */
  dryRun?: boolean;
}

/** Options after validation, with every default filled in. */
export interface ResolvedLimiterOptions {
  readonly policy: BucketPolicy;
  readonly queue: { readonly maxSize: number; readonly maxWaitMs: number; readonly batchWindowMs?: number; readonly priorities?: boolean; readonly orderGraceMs?: number } | undefined;
  readonly store: Store | undefined;
  readonly clock: Clock | undefined;
  readonly dryRun: boolean;
}

const KNOWN = ['rate', 'interval', 'burst', 'queue', 'store', 'name', 'clock', 'strict', 'dryRun'];
const KNOWN_QUEUE = ['maxSize', 'maxWait', 'batchWindow', 'priorities', 'orderGrace'];
/** Option names of other limiters, mapped to flowgate's, for a helpful error on a typo or a port. */
const LOOKALIKES: Record<string, string> = {
  windowms: 'interval', window: 'interval', ttl: 'interval', per: 'interval',
  max: 'rate', limit: 'rate', points: 'rate', tokens: 'rate', capacity: 'burst', bucketsize: 'burst',
  maxqueuesize: 'queue.maxSize', maxwait: 'queue.maxWait', timeout: 'queue.maxWait', keyprefix: 'name', prefix: 'name',
  keygenerator: 'key', keygen: 'key', id: 'key', getkey: 'key', whitelist: 'skip', allowlist: 'skip',
  errormessage: 'message', statuscode: 'statusCode', standardheaders: 'headers',
};

/** Look-alikes that need more than a name: a unit that differs, or no counterpart. */
const NOTED_LOOKALIKES: Record<string, string> = {
  duration: "did you mean 'interval'? A number is in ms, as koa-ratelimit's duration; rate-limiter-flexible's duration is in seconds: write '60s'",
  blockduration: 'flowgate blocks no client for longer than its bucket needs to refill: a rejected client is told when to retry (Retry-After)',
};
const DEFAULT_QUEUE = { maxSize: 100, maxWait: '10s' };
const NAME_PATTERN = /^[\x20-\x7e]{1,128}$/;

/** Throws {@link FlowgateConfigError} for any key of `options` that is not in `known`. */
export function rejectUnknownOptions(options: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const lower = key.toLowerCase();
    const alike = LOOKALIKES[lower];
    // Another library's name, hinted only where the option it maps to is taken (`key` is an adapter's, not a limiter's).
    const hint = known.find((k) => k.toLowerCase() === lower) ?? (alike !== undefined && known.includes(alike.split('.')[0] as string) ? alike : undefined);
    const note = NOTED_LOOKALIKES[lower];
    const meant = hint !== undefined ? ` (did you mean '${hint}'?)` : note !== undefined ? ` (${note})` : '';
    const allowed = `unknown option${meant}; known options: ${known.join(', ')}`;
    throw new FlowgateConfigError(prefix + key, (options as Record<string, unknown>)[key], allowed);
  }
}

/** Throws {@link FlowgateConfigError} unless `value` is a finite number above (or at) `rule.min`, an integer if asked. */
export function requireNumber(option: string, value: unknown, rule: { integer?: boolean; min: number; minInclusive: boolean }): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (rule.minInclusive ? value >= rule.min : value > rule.min) &&
    (!rule.integer || Number.isInteger(value));
  if (!ok) {
    const kind = rule.integer ? 'an integer' : 'a finite number';
    throw new FlowgateConfigError(option, value, `must be ${kind} ${rule.minInclusive ? '>=' : '>'} ${rule.min}`);
  }
  return value as number;
}

/** Throws {@link FlowgateConfigError} for a token count (`rate`, `burst`) beyond 2^53, where floating point loses whole tokens and no bucket math holds; returns `value`. */
export function requireSafeCount(option: string, value: number): number {
  if (value > Number.MAX_SAFE_INTEGER) throw new FlowgateConfigError(option, value, `must be at most ${Number.MAX_SAFE_INTEGER}`);
  return value;
}

/**
 * Throws {@link FlowgateConfigError} unless `rate` per `intervalMs` is a refill rate that floating
 * point can hold: tokens per ms above 0 (else the bucket never refills, and every wait, reset and
 * header figure is Infinity or NaN) and finite (else a bucket's tokens are NaN). `intervalValue`
 * is the interval as given, for the message.
 */
export function requireRefillRate(rate: number, intervalMs: number, intervalValue: unknown): void {
  const ratePerMs = rate / intervalMs;
  if (ratePerMs === 0) throw new FlowgateConfigError('rate', rate, `refills no token: rate / interval (${intervalMs} ms) is below the smallest number of tokens per ms`);
  if (!Number.isFinite(ratePerMs)) throw new FlowgateConfigError('interval', intervalValue ?? intervalMs, `is too short for rate ${rate}: rate / interval is more tokens per ms than floating point holds`);
}

/** Validates limiter options and fills in defaults; throws {@link FlowgateConfigError} on the first bad one. */
export function resolveLimiterOptions(options: LimiterOptions): ResolvedLimiterOptions {
  if (options === null || typeof options !== 'object') {
    throw new FlowgateConfigError('options', options, 'must be an object such as { rate: 10, interval: "1s" }');
  }
  rejectUnknownOptions(options, KNOWN);
  const rate = requireSafeCount('rate', requireNumber('rate', options.rate, { min: 0, minInclusive: false }));
  const intervalMs = parseDuration(options.interval ?? 1000, 'interval', { ms: 0, exclusive: true });
  requireRefillRate(rate, intervalMs, options.interval);
  const burst = options.burst === undefined ? Math.max(1, Math.ceil(rate)) : requireNumber('burst', options.burst, { integer: true, min: 1, minInclusive: true });
  requireSafeCount('burst', burst);
  const name = options.name ?? 'default';
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new FlowgateConfigError('name', name, 'must be 1 to 128 printable ASCII characters');
  }
  if (options.strict !== undefined && typeof options.strict !== 'boolean') {
    throw new FlowgateConfigError('strict', options.strict, 'must be true or false');
  }
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') {
    throw new FlowgateConfigError('dryRun', options.dryRun, 'must be true or false');
  }
  return {
    dryRun: options.dryRun ?? false,
    policy: bucketPolicy(name, rate, intervalMs, burst, options.strict ?? false),
    queue: resolveQueue(options.queue),
    store: resolveStore(options.store),
    clock: resolveClock(options.clock),
  };
}

function resolveQueue(queue: LimiterOptions['queue']): ResolvedLimiterOptions['queue'] {
  if (queue === undefined || queue === false) return undefined;
  const given: QueueOptions = queue === true ? {} : queue;
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new FlowgateConfigError('queue', queue, 'must be true, false, or { maxSize, maxWait }');
  }
  rejectUnknownOptions(given, KNOWN_QUEUE, 'queue.');
  const maxSize = requireNumber('queue.maxSize', given.maxSize ?? DEFAULT_QUEUE.maxSize, { integer: true, min: 0, minInclusive: true });
  const maxWaitMs = parseDuration(given.maxWait ?? DEFAULT_QUEUE.maxWait, 'queue.maxWait');
  if (maxWaitMs > 2_147_483_647) throw new FlowgateConfigError('queue.maxWait', given.maxWait, 'must be at most 2147483647 ms (about 24.8 days)');
  if (given.priorities !== undefined && typeof given.priorities !== 'boolean') throw new FlowgateConfigError('queue.priorities', given.priorities, 'must be true or false');
  const priorities = given.priorities === true ? { priorities: true } : {};
  const orderGrace = orderGraceOf(given.orderGrace, maxWaitMs);
  if (given.batchWindow === undefined) return { maxSize, maxWaitMs, ...priorities, ...orderGrace };
  const batchWindowMs = parseDuration(given.batchWindow, 'queue.batchWindow');
  if (batchWindowMs > 1000) throw new FlowgateConfigError('queue.batchWindow', given.batchWindow, "must be at most '1s'");
  return { maxSize, maxWaitMs, batchWindowMs, ...priorities, ...orderGrace };
}

/** `queue.orderGrace` in ms, as an object to spread (empty when not given). */
function orderGraceOf(given: Duration | undefined, maxWaitMs: number): { orderGraceMs?: number } {
  if (given === undefined) return {};
  const orderGraceMs = parseDuration(given, 'queue.orderGrace');
  if (orderGraceMs > 1000) throw new FlowgateConfigError('queue.orderGrace', given, "must be at most '1s'");
  if (orderGraceMs > maxWaitMs) throw new FlowgateConfigError('queue.orderGrace', given, `must be at most queue.maxWait (${maxWaitMs} ms)`);
  return { orderGraceMs };
}

function resolveStore(store: unknown): Store | undefined {
  if (store === undefined) return undefined;
  const methods = ['take', 'refund', 'peek', 'reset', 'close'] as const;
  const missing = methods.filter((m) => typeof (store as Record<string, unknown> | null)?.[m] !== 'function');
  if (missing.length > 0) throw new FlowgateConfigError('store', store, `must implement the Store interface (missing: ${missing.join(', ')})`);
  return store as Store;
}

/** Checks a `clock` option (anything with `now()`), throwing FlowgateConfigError; `undefined` when not given. */
export function resolveClock(clock: unknown): Clock | undefined {
  if (clock === undefined) return undefined;
  if (typeof (clock as Clock | null)?.now !== 'function') throw new FlowgateConfigError('clock', clock, 'must have a now() method returning milliseconds');
  return clock as Clock;
}
