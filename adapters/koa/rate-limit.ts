// Koa middleware: maps a context to (key, cost) and a decision to an HTTP answer; the core decides.

import type { Context, Middleware, Next } from 'koa';
import type { ConcurrencyLimiter, Permit, PermitDecision } from '../../src/concurrency/concurrency-limiter.js';
import type { Decision } from '../../src/decision.js';
import { headerWriter, requestPriority, rejectionBody, rejectionStatus, settledKeyAndCost, ignoreRejection, type HeaderWriter } from '../../src/http/http-answer.js';
import { resolveHttpOptions, type HttpRateLimitOptions, type ResolvedHttpOptions } from '../../src/http/http-options.js';
import { ipKey } from '../../src/http/ip-key.js';
import { hasClosed } from '../../src/http/client-disconnect.js';
import { releaseOnClose } from '../../src/http/release-on-close.js';
import { countByOutcome } from '../../src/http/count-by-outcome.js';
import { giveBack, takeWhileConnected } from '../../src/http/take-while-connected.js';
import type { Limiter } from '../../src/limiter.js';

declare module 'koa' {
  interface DefaultState {
    /** The rate-limit decision for this request, set by `flowgate/koa`. */
    rateLimit?: Decision;
  }
}

/** Options of {@link rateLimit}: the shared HTTP adapter options, plus a Koa `handler`. */
export interface KoaRateLimitOptions extends HttpRateLimitOptions<Context> {
  /**
   * Answers a rejection instead of the default (status and headers already set, problem+json body).
   * It may also throw, e.g. `ctx.throw(429, 'Slow down')`: Koa's error answer then keeps the
   * RateLimit fields and Retry-After.
   */
  handler?: (ctx: Context, next: Next, decision: Decision) => unknown;
}

/**
 * The middleware returned by {@link rateLimit}, with its limiter for events, `peek`, `reset` and
 * `close` (`undefined` when only `concurrency` is given), and its concurrency limit if any.
 */
export type KoaRateLimitMiddleware<L extends Limiter | undefined = Limiter> = Middleware & {
  readonly limiter: L;
  /** The concurrency limit of the `concurrency` option: close it at shutdown to give shared permits back. */
  readonly concurrencyLimiter: ConcurrencyLimiter | undefined;
};

/** The fields (lower-case) that Koa's error answer keeps on an admitted request's response: the RateLimit fields. */
const RATE_LIMIT_FIELDS: ReadonlySet<string> = new Set(['ratelimit-policy', 'ratelimit']);
/** The fields kept on a rejected request's response: the RateLimit fields and Retry-After. */
const REJECTION_FIELDS: ReadonlySet<string> = new Set([...RATE_LIMIT_FIELDS, 'retry-after']);
/** The fields kept on a rejected request's response with `headers: false`: Retry-After alone. */
const RETRY_AFTER_FIELD: ReadonlySet<string> = new Set(['retry-after']);
/** The context's own error handler before {@link keepRateLimitOnError} took its place. */
const INNER_ONERROR = Symbol('flowgate.koa.onerror');
/** The header fields (lower-case) that {@link keepRateLimitOnError} keeps on the context's response. */
const KEPT_FIELDS = Symbol('flowgate.koa.keptFields');

type ErrorHandling = Context & { [INNER_ONERROR]?: Context['onerror']; [KEPT_FIELDS]?: ReadonlySet<string> };

/**
 * Koa answers an error thrown downstream with `ctx.onerror`, which first removes every header
 * (`res.removeHeader` for each of `res.getHeaderNames()`), then sets the error's own `headers`. This
 * handler, put in its place on the context, gives the response for that call an own `removeHeader`
 * that leaves the fields flowgate wrote (the RateLimit fields, and on a rejection Retry-After) and
 * removes the others as before; it is taken away again after. The error is not touched (its
 * `headers` may be a getter or read-only), and its own headers still apply, over flowgate's fields
 * of the same name.
 */
function keepRateLimitOnError(this: ErrorHandling, err: Error): void {
  const inner = this[INNER_ONERROR] ?? this.app.context.onerror;
  const kept = this[KEPT_FIELDS];
  // (Koa also calls it with null, and with things thrown that are not errors: those go through too.)
  if (err === null || err === undefined || kept === undefined || this.headerSent) return inner.call(this, err);
  const res = this.res as ErrorHandling['res'] & Record<string, unknown>;
  const own = Object.getOwnPropertyDescriptor(res, 'removeHeader');
  const removeHeader = res.removeHeader;
  const keeping = function (this: unknown, name: string): void {
    if (typeof name === 'string' && kept.has(name.toLowerCase())) return;
    removeHeader.call(this, name);
  };
  // A response that takes no own property (frozen by someone): Koa's answer as it would be without flowgate.
  if (!Reflect.defineProperty(res, 'removeHeader', { value: keeping, writable: true, configurable: true, enumerable: false })) return inner.call(this, err);
  try {
    return inner.call(this, err);
  } finally {
    if (own !== undefined) Reflect.defineProperty(res, 'removeHeader', own);
    else Reflect.deleteProperty(res, 'removeHeader');
  }
}

/**
 * Makes Koa's error answer of `ctx` keep the header `fields` flowgate wrote (see
 * {@link keepRateLimitOnError}): the RateLimit fields, and on a rejection Retry-After.
 */
function keepHeadersOnError(ctx: Context, fields: ReadonlySet<string>): void {
  const handling = ctx as ErrorHandling;
  const kept = handling[KEPT_FIELDS];
  // Another flowgate middleware of the same request installed it already: keep the fields of both.
  handling[KEPT_FIELDS] = kept === undefined || kept === fields ? fields : new Set([...kept, ...fields]);
  if (handling.onerror === keepRateLimitOnError) return;
  handling[INNER_ONERROR] = handling.onerror;
  handling.onerror = keepRateLimitOnError;
}

/** The default key: `ctx.ip` (which honours `app.proxy`), IPv6 grouped by /56. */
function defaultKey(ctx: Context): string {
  // Without `app.proxy`, ctx.ip is the socket's address: read it without looking at forwarding headers.
  if (!ctx.app.proxy) {
    const address = ctx.req.socket?.remoteAddress;
    if (address !== undefined) return ipKey(address);
  }
  return ipKey(ctx.ip || ctx.req.socket?.remoteAddress);
}

/**
 * Creates Koa middleware (Koa 2 and 3) that rate-limits requests, queueing those over the limit
 * when the `queue` option is set. The decision is in `ctx.state.rateLimit`; every response carries
 * the IETF `RateLimit` and `RateLimit-Policy` headers, a rejection also `Retry-After`. With
 * `concurrency`, at most that many requests per key are in flight: a permit is taken after the rate
 * limit admits, and released when the response closes. Errors of the key, cost and skip functions
 * go to Koa's error handling. Bad options throw here.
 *
 * @example
 * app.use(rateLimit({ rate: 100, interval: '1m', queue: { maxSize: 20, maxWait: '2s' } }));
 * router.get('/export', rateLimit({ concurrency: 2, name: 'export' }), exportAll);
 */
export function rateLimit(options: KoaRateLimitOptions & { concurrency: number | ConcurrencyLimiter; rate?: undefined; limiter?: undefined }): KoaRateLimitMiddleware<undefined>;
export function rateLimit(options: KoaRateLimitOptions): KoaRateLimitMiddleware;
export function rateLimit(options: KoaRateLimitOptions): KoaRateLimitMiddleware<Limiter | undefined> {
  const config = resolveHttpOptions<Context>(options as KoaRateLimitOptions & Record<string, unknown>, ['handler'], defaultKey);
  const handler = options.handler;
  const writeHeaders = headerWriter(config);

  const reject = async (ctx: Context, next: Next, decision: Decision): Promise<unknown> => {
    ctx.status = rejectionStatus(decision, config);
    if (handler !== undefined) {
      // A handler that throws (`ctx.throw(429)`, the Koa way) is answered by ctx.onerror: keep the headers written.
      keepHeadersOnError(ctx, config.headers === false ? RETRY_AFTER_FIELD : REJECTION_FIELDS);
      // A handler that lets the request through after all: from then on, as an admitted request's
      // (a Retry-After the app sets downstream is not flowgate's to keep).
      const onward: Next = () => {
        (ctx as ErrorHandling)[KEPT_FIELDS] = config.headers === false ? undefined : RATE_LIMIT_FIELDS;
        return next();
      };
      return handler(ctx, onward, decision);
    }
    const body = await rejectionBody(decision, config, ctx);
    ctx.type = body.contentType;
    ctx.body = body.payload;
    return undefined;
  };

  const { concurrency } = config;
  if (concurrency !== undefined) return withConcurrency(config.limiter, concurrency, { config, writeHeaders, reject });
  const limiter = config.limiter as Limiter;

  const keepOnError = config.headers !== false;
  const { counting } = config;
  /** Answers a decided request: headers, `ctx.state.rateLimit`, then the next middleware or the rejection. */
  const answer = (ctx: Context, next: Next, decision: Decision): unknown => {
    ctx.state.rateLimit = decision;
    writeHeaders(decision, ctx.res);
    if (!decision.allowed) return reject(ctx, next, decision);
    if (keepOnError) keepHeadersOnError(ctx, RATE_LIMIT_FIELDS);
    if (counting !== undefined) countByOutcome(counting, limiter, decision, ctx, ctx.res);
    return next();
  };

  /** The general path: async skip, key and cost, and waiting in the queue. */
  const decide = async (ctx: Context, next: Next, given?: { key: unknown; cost: unknown }): Promise<unknown> => {
    if (given === undefined && config.skip !== undefined && (await config.skip(ctx))) return next();
    const { key, cost } = await settledKeyAndCost(config, ctx, given);
    // A client that goes away while its request waits gives its place up at once; Koa writes nothing to a closed response.
    const decision = await takeWhileConnected(limiter, key, cost, ctx.res, await requestPriority(config, ctx));
    return decision === undefined ? undefined : answer(ctx, next, decision);
  };

  const middleware = (ctx: Context, next: Next): Promise<unknown> => {
    if (config.skip !== undefined) return decide(ctx, next);
    // The hot path: plain key and cost, and a store that answers at once, need no extra promise.
    let given;
    let key;
    try {
      key = config.key(ctx);
      const cost = typeof config.cost === 'function' ? config.cost(ctx) : config.cost;
      if (typeof key === 'string' && typeof cost === 'number') {
        const decision = limiter.tryTakeSync(key, cost);
        if (decision !== undefined) return Promise.resolve(answer(ctx, next, decision));
      }
      given = { key, cost };
    } catch (error) {
      // The cost function threw: a key promise already asked for is settled by nobody.
      ignoreRejection(key);
      return Promise.reject(error);
    }
    return decide(ctx, next, given);
  };
  return Object.assign(middleware as Middleware, { limiter, concurrencyLimiter: undefined });
}

/** What the concurrency middleware shares with {@link rateLimit}: the options, and how headers and rejections are written. */
interface Answering {
  readonly config: ResolvedHttpOptions<Context>;
  readonly writeHeaders: HeaderWriter;
  readonly reject: (ctx: Context, next: Next, decision: Decision) => Promise<unknown>;
}

/** The middleware with a concurrency limit: the rate limit first (if any), then a permit held until the response closes. */
function withConcurrency(limiter: Limiter | undefined, concurrency: ConcurrencyLimiter, { config, writeHeaders, reject }: Answering): KoaRateLimitMiddleware<Limiter | undefined> {
  /** The rate limit decided: a rejection is answered as usual; an admission goes on to the permit. */
  const rated = (ctx: Context, next: Next, key: string, cost: number, decision: Decision): unknown => {
    if (!decision.allowed) {
      ctx.state.rateLimit = decision;
      writeHeaders(decision, ctx.res);
      return reject(ctx, next, decision);
    }
    return acquire(ctx, next, key, cost, decision);
  };

  const acquire = (ctx: Context, next: Next, key: string, cost: number, decision: Decision | undefined): unknown => {
    const permits = concurrency.tryAcquireSync(key);
    if (permits !== undefined) return permitted(ctx, next, key, cost, decision, permits);
    return concurrency.acquire(key).then(
      (later) => permitted(ctx, next, key, cost, decision, later),
      // The permit store failed: the rate limit's tokens were not used either.
      (error: unknown) => giveBack(limiter, key, cost, decision).then(() => Promise.reject(error)),
    );
  };

  const permitted = (ctx: Context, next: Next, key: string, cost: number, decision: Decision | undefined, permits: PermitDecision): unknown => {
    if (permits.allowed) {
      releaseOnClose(ctx.res, permits.permit as Permit);
      // The client left before its permit came (the permit is released at once): the handler does
      // not run for nobody, and the rate limit's tokens go back.
      if (hasClosed(ctx.res)) return giveBack(limiter, key, cost, decision);
    }
    ctx.state.rateLimit = permits.allowed && decision !== undefined ? decision : permits;
    // A refusal describes the concurrency limit only: the rate limit's tokens are given back.
    writeHeaders(permits.allowed ? decision : undefined, ctx.res, permits);
    if (permits.allowed) {
      if (config.headers !== false) keepHeadersOnError(ctx, RATE_LIMIT_FIELDS);
      if (config.counting !== undefined && limiter !== undefined && decision !== undefined) countByOutcome(config.counting, limiter, decision, ctx, ctx.res);
      return next();
    }
    // The rate limit's tokens were not used: give them back before answering.
    return giveBack(limiter, key, cost, decision).then(() => reject(ctx, next, permits));
  };

  const decideAll = async (ctx: Context, next: Next, given?: { key: unknown; cost: unknown }): Promise<unknown> => {
    if (given === undefined && config.skip !== undefined && (await config.skip(ctx))) return next();
    const { key, cost } = await settledKeyAndCost(config, ctx, given);
    if (limiter === undefined) return acquire(ctx, next, key, cost, undefined);
    const decision = await takeWhileConnected(limiter, key, cost, ctx.res, await requestPriority(config, ctx));
    return decision === undefined ? undefined : rated(ctx, next, key, cost, decision);
  };

  const middleware = (ctx: Context, next: Next): Promise<unknown> => {
    if (config.skip !== undefined) return decideAll(ctx, next);
    let given;
    let key;
    try {
      key = config.key(ctx);
      const cost = typeof config.cost === 'function' ? config.cost(ctx) : config.cost;
      if (typeof key === 'string' && typeof cost === 'number') {
        if (limiter === undefined) return Promise.resolve(acquire(ctx, next, key, cost, undefined));
        const decision = limiter.tryTakeSync(key, cost);
        if (decision !== undefined) return Promise.resolve(rated(ctx, next, key, cost, decision));
      }
      given = { key, cost };
    } catch (error) {
      // The cost function threw: a key promise already asked for is settled by nobody.
      ignoreRejection(key);
      return Promise.reject(error);
    }
    return decideAll(ctx, next, given);
  };
  return Object.assign(middleware as Middleware, { limiter, concurrencyLimiter: concurrency });
}
