// The options every HTTP adapter shares (key, cost, skip, status, message, headers, concurrency), validated once.

import { ConcurrencyLimiter, createConcurrencyLimiter } from '../concurrency/concurrency-limiter.js';
import type { Decision } from '../decision.js';
import { FlowgateConfigError } from '../errors.js';
import { createLimiter, Limiter } from '../limiter.js';
import { rejectUnknownOptions, requireNumber, type LimiterOptions } from '../limiter-options.js';
import type { Store } from '../store.js';
import { HEADER_FORMATS, type HeaderFormat } from './rate-limit-headers.js';
import { hasBrand } from '../brand.js';
import { statusBelow400, type OutcomeCounting } from './count-by-outcome.js';
import type { ServerResponse } from 'node:http';

/** A value, or a promise of one. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Options shared by `flowgate/express`, `flowgate/koa` and `flowgate/nestjs`. `Req` is what the
 * adapter hands to the functions: an Express request, a Koa context, a Nest execution context.
 * Either the limiter options (`rate`, `interval`, `burst`, `queue`, `store`, `name`) or an existing
 * `limiter`, and/or a `concurrency` limit: at least one of `rate`, `limiter` and `concurrency`.
 */
export interface HttpRateLimitOptions<Req> extends Partial<LimiterOptions> {
  /** An existing limiter to use instead of creating one from the limiter options. */
  limiter?: Limiter;
  /** The bucket key of a request (sync or async). Default: the client IP, IPv6 grouped by /56. */
  key?: (req: Req) => MaybePromise<string>;
  /** Tokens a request costs: a number, or a (sync or async) function of the request. Default 1. */
  cost?: number | ((req: Req) => MaybePromise<number>);
  /** Requests for which this returns true pass without touching the limit (sync or async). */
  skip?: (req: Req) => MaybePromise<boolean>;
  /**
   * The request's priority in the overflow queue: a number, or a (sync or async) function of the
   * request. Higher goes first, FIFO within a priority, with ageing (see the README). Default 0.
   */
  priority?: number | ((req: Req) => MaybePromise<number>);
  /** Status of a rejection over the limit. Default 429. (A closing limiter answers 503.) */
  statusCode?: number;
  /** Body of a rejection: a string (text/plain), an object (JSON) or a function of (request, decision). Default: problem+json. */
  message?: string | object | ((req: Req, decision: Decision) => MaybePromise<unknown>);
  /** The RateLimit header form: `'draft-8'` (default), `'draft-7'`, or `false` for none. */
  headers?: HeaderFormat;
  /** The policy name in the headers and problem body. Default: the limiter's name. */
  policyName?: string;
  /**
   * At most this many requests in flight per key (an integer >= 1), each holding a permit from
   * when it is admitted until its response closes (finished, or the client went away). Shared by
   * the cluster with a `ZooKeeperStore` as `store`, per process otherwise. Or a
   * `ConcurrencyLimiter` (required with `limiter`). With it, `rate` is optional.
   */
  concurrency?: number | ConcurrencyLimiter;
  /**
   * An admitted request whose response succeeded (see `requestWasSuccessful`) gives its tokens back
   * once the response is over: only failures count, e.g. failed logins. Default false.
   */
  skipSuccessfulRequests?: boolean;
  /**
   * An admitted request whose response failed (a status of 400 or more by default), or whose client
   * went away before it finished, gives its tokens back once the response is over. Default false.
   */
  skipFailedRequests?: boolean;
  /**
   * Whether a finished response succeeded, for `skipSuccessfulRequests` and `skipFailedRequests`
   * (sync or async); `res` is Node's `ServerResponse`. Default: `res.statusCode < 400`. If it throws,
   * the request counts and a process warning says why.
   */
  requestWasSuccessful?: (req: Req, res: ServerResponse) => MaybePromise<boolean>;
}

/** Adapter options after validation. */
export interface ResolvedHttpOptions<Req> {
  /** The rate limiter; absent when only `concurrency` is given. */
  readonly limiter: Limiter | undefined;
  /** The concurrency limit, when `concurrency` is given. */
  readonly concurrency: ConcurrencyLimiter | undefined;
  /** The concurrency limit's policy name in headers and problem bodies: `policyName`, or `<policyName>-concurrency` beside a rate limit. */
  readonly concurrencyPolicyName: string;
  readonly key: (req: Req) => MaybePromise<string>;
  readonly cost: number | ((req: Req) => MaybePromise<number>);
  readonly skip: ((req: Req) => MaybePromise<boolean>) | undefined;
  /** Absent when not given: takes then carry no priority. */
  readonly priority: number | ((req: Req) => MaybePromise<number>) | undefined;
  readonly statusCode: number;
  readonly message: HttpRateLimitOptions<Req>['message'];
  readonly headers: HeaderFormat;
  readonly policyName: string;
  /** Which admitted requests give their tokens back once their response is over; absent when none does. */
  readonly counting: OutcomeCounting<Req> | undefined;
}

const LIMITER_KEYS = ['rate', 'interval', 'burst', 'queue', 'store', 'name', 'clock', 'strict', 'dryRun'];
const HTTP_KEYS = [
  'limiter', 'key', 'cost', 'skip', 'priority', 'statusCode', 'message', 'headers', 'policyName', 'concurrency',
  'skipSuccessfulRequests', 'skipFailedRequests', 'requestWasSuccessful',
];
/** Limiter options that describe a rate limit only, so they need a `rate` (`dryRun` and `store` also serve a concurrency limit). */
const RATE_SHAPE_KEYS = ['interval', 'burst', 'queue', 'strict'];

/**
 * Validates adapter options at construction time and creates the limiter when none is given.
 * `extraKeys` are the adapter's own options, each a function (such as Express's `handler`);
 * `defaultKey` maps a request to its default key.
 */
export function resolveHttpOptions<Req>(
  options: HttpRateLimitOptions<Req> & Record<string, unknown>,
  extraKeys: readonly string[],
  defaultKey: (req: Req) => string,
): ResolvedHttpOptions<Req> {
  if (options === null || typeof options !== 'object') {
    throw new FlowgateConfigError('options', options, 'must be an object such as { rate: 10, interval: "1s" }');
  }
  rejectUnknownOptions(options, [...LIMITER_KEYS, ...HTTP_KEYS, ...extraKeys]);
  const limiterOptions = Object.fromEntries(Object.entries(options).filter(([k]) => LIMITER_KEYS.includes(k)));
  let limiter: Limiter | undefined;
  if (options.limiter !== undefined) {
    if (!hasBrand<Limiter>(options.limiter, 'Limiter')) throw new FlowgateConfigError('limiter', options.limiter, 'must be a Limiter from createLimiter()');
    const clash = Object.keys(limiterOptions)[0];
    if (clash !== undefined) throw new FlowgateConfigError(clash, limiterOptions[clash], 'cannot be combined with `limiter`: set it on the limiter instead');
    limiter = options.limiter;
  } else if (options.rate !== undefined) {
    limiter = createLimiter(withPriorities(limiterOptions, options.priority) as unknown as LimiterOptions);
  } else if (options.concurrency === undefined) {
    throw new FlowgateConfigError('rate', undefined, 'is required (a finite number > 0) unless `concurrency` (or `limiter`) is given');
  } else {
    const shape = RATE_SHAPE_KEYS.find((k) => options[k] !== undefined);
    if (shape !== undefined) throw new FlowgateConfigError(shape, options[shape], 'describes a rate limit, which needs a `rate` (only `concurrency` is given)');
  }
  try {
    return resolveRest(options, extraKeys, defaultKey, limiter);
  } catch (error) {
    // A bad option after the limiter was made: close it (with a shared store it registered there).
    if (options.limiter === undefined) void limiter?.close();
    throw error;
  }
}

/** The adapter options besides the limiter's, validated; then the concurrency limit, made last. */
function resolveRest<Req>(
  options: HttpRateLimitOptions<Req> & Record<string, unknown>,
  extraKeys: readonly string[],
  defaultKey: (req: Req) => string,
  limiter: Limiter | undefined,
): ResolvedHttpOptions<Req> {
  for (const name of ['key', 'skip', ...extraKeys]) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new FlowgateConfigError(name, options[name], 'must be a function');
  }
  const cost = options.cost ?? 1;
  if (typeof cost !== 'function') requireNumber('cost', cost, { min: 0, minInclusive: true });
  if (typeof cost === 'number' && limiter !== undefined && cost > limiter.policy.burst) {
    throw new FlowgateConfigError('cost', cost, `must be at most the limit's burst (${limiter.policy.burst}): a request that costs more can never be admitted`);
  }
  const priority = options.priority;
  if (priority !== undefined && typeof priority !== 'function' && (typeof priority !== 'number' || !Number.isFinite(priority))) {
    throw new FlowgateConfigError('priority', priority, 'must be a finite number or a function of the request');
  }
  const statusCode = requireNumber('statusCode', options.statusCode ?? 429, { integer: true, min: 400, minInclusive: true });
  if (statusCode > 599) throw new FlowgateConfigError('statusCode', statusCode, 'must be an HTTP error status from 400 to 599');
  const headers = options.headers ?? 'draft-8';
  if (!HEADER_FORMATS.includes(headers)) throw new FlowgateConfigError('headers', headers, "must be 'draft-8', 'draft-7' or false");
  const given = options.concurrency;
  const policyName = options.policyName ?? limiter?.name ?? (hasBrand<ConcurrencyLimiter>(given, 'ConcurrencyLimiter') ? given.name : (options.name ?? 'default'));
  if (typeof policyName !== 'string' || !/^[\x20-\x7e]{1,128}$/.test(policyName)) {
    throw new FlowgateConfigError('policyName', policyName, 'must be 1 to 128 printable ASCII characters');
  }
  const message = options.message;
  if (message !== undefined && (message === null || !['string', 'object', 'function'].includes(typeof message))) {
    throw new FlowgateConfigError('message', message, 'must be a string, an object or a function of (request, decision)');
  }
  const counting = resolveCounting(options, limiter);
  // Made last, once everything else is valid: a shared permit store registers with its store.
  const concurrency = resolveConcurrency(options, limiter);
  const concurrencyPolicyName = limiter === undefined ? policyName : `${policyName}-concurrency`;
  return { limiter, concurrency, concurrencyPolicyName, key: options.key ?? defaultKey, cost, skip: options.skip, priority, statusCode, message, headers, policyName, counting };
}

/**
 * `skipSuccessfulRequests`, `skipFailedRequests` and `requestWasSuccessful`, validated against each
 * other and the rate limit (`limiter`, absent for a concurrency limit alone); `undefined` when no
 * request gives its tokens back. Throws {@link FlowgateConfigError}.
 */
export function resolveCounting<Req>(
  options: Pick<HttpRateLimitOptions<Req>, 'skipSuccessfulRequests' | 'skipFailedRequests' | 'requestWasSuccessful'>,
  limiter: Limiter | undefined,
): OutcomeCounting<Req> | undefined {
  const { skipSuccessfulRequests: skipSuccessful = false, skipFailedRequests: skipFailed = false, requestWasSuccessful } = options;
  if (typeof skipSuccessful !== 'boolean') throw new FlowgateConfigError('skipSuccessfulRequests', skipSuccessful, 'must be true or false');
  if (typeof skipFailed !== 'boolean') throw new FlowgateConfigError('skipFailedRequests', skipFailed, 'must be true or false');
  if (requestWasSuccessful !== undefined && typeof requestWasSuccessful !== 'function') {
    throw new FlowgateConfigError('requestWasSuccessful', requestWasSuccessful, 'must be a function of (request, response) returning a boolean');
  }
  if (skipSuccessful && skipFailed) {
    throw new FlowgateConfigError('skipFailedRequests', skipFailed, 'cannot be combined with skipSuccessfulRequests: no request would count (use `skip` to let requests pass)');
  }
  if (!skipSuccessful && !skipFailed) {
    if (requestWasSuccessful !== undefined) throw new FlowgateConfigError('requestWasSuccessful', requestWasSuccessful, 'has no effect without skipSuccessfulRequests or skipFailedRequests');
    return undefined;
  }
  if (limiter === undefined) {
    const option = skipSuccessful ? 'skipSuccessfulRequests' : 'skipFailedRequests';
    throw new FlowgateConfigError(option, true, 'gives a rate limit\'s tokens back, and only `concurrency` is given (its permits are released when the response closes, whatever its outcome)');
  }
  return { skipSuccessful, skipFailed, wasSuccessful: requestWasSuccessful ?? statusBelow400 };
}

/**
 * The concurrency limit of `concurrency`: a given limiter, or a new one named like the rate limit
 * whose permits live with the `store` (shared with a ZooKeeperStore). With an existing `limiter`,
 * whose store cannot be seen here, only a ConcurrencyLimiter is accepted, so that a cluster's
 * limit is never silently counted per process.
 */
function resolveConcurrency<Req>(options: HttpRateLimitOptions<Req>, limiter: Limiter | undefined): ConcurrencyLimiter | undefined {
  const given = options.concurrency;
  if (given === undefined || hasBrand<ConcurrencyLimiter>(given, 'ConcurrencyLimiter')) return given;
  if (options.limiter !== undefined) {
    throw new FlowgateConfigError('concurrency', given, 'with `limiter`, must be a ConcurrencyLimiter from createConcurrencyLimiter({ concurrency, store }), so that its store is explicit');
  }
  return createConcurrencyLimiter({
    concurrency: given,
    name: limiter?.name ?? options.name,
    ...(options.store !== undefined && { store: options.store as Store }),
    ...(options.dryRun !== undefined && { dryRun: options.dryRun }),
  });
}

/**
 * The limiter options with `queue.priorities` on when the adapter is given a `priority` and a queue
 * (unless the queue options say otherwise): requests' priorities then count across processes.
 */
function withPriorities(limiterOptions: Record<string, unknown>, priority: unknown): Record<string, unknown> {
  const queue = limiterOptions.queue;
  if (priority === undefined || queue === undefined || queue === false || queue === null) return limiterOptions;
  if (queue === true) return { ...limiterOptions, queue: { priorities: true } };
  if (typeof queue !== 'object' || 'priorities' in queue) return limiterOptions;
  return { ...limiterOptions, queue: { ...queue, priorities: true } };
}
