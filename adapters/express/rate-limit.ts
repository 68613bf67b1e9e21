// Express middleware: maps a request to (key, cost) and a decision to an HTTP answer; the core decides.

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ConcurrencyLimiter, Permit, PermitDecision } from '../../src/concurrency/concurrency-limiter.js';
import type { Decision } from '../../src/decision.js';
import { headerWriter, requestPriority, rejectionBody, rejectionStatus, settledKeyAndCost, ignoreRejection, type HeaderWriter } from '../../src/http/http-answer.js';
import { resolveHttpOptions, type HttpRateLimitOptions, type MaybePromise, type ResolvedHttpOptions } from '../../src/http/http-options.js';
import { ipKey } from '../../src/http/ip-key.js';
import { hasClosed } from '../../src/http/client-disconnect.js';
import { releaseOnClose } from '../../src/http/release-on-close.js';
import { countByOutcome } from '../../src/http/count-by-outcome.js';
import { requestSlot } from '../../src/http/request-slot.js';
import { giveBack, takeWhileConnected } from '../../src/http/take-while-connected.js';
import type { Limiter } from '../../src/limiter.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The rate-limit decision for this request, set by `flowgate/express`. */
      rateLimit?: Decision;
    }
  }
}

/** Options of {@link rateLimit}: the shared HTTP adapter options, plus an Express `handler`. */
export interface ExpressRateLimitOptions extends Omit<HttpRateLimitOptions<Request>, 'requestWasSuccessful'> {
  /**
   * Whether a finished response succeeded, for `skipSuccessfulRequests` and `skipFailedRequests`
   * (sync or async), given Express's `req` and `res` (express-rate-limit's signature: `res.locals`
   * is there). Default: `res.statusCode < 400`. If it throws, the request counts and a process
   * warning says why.
   */
  requestWasSuccessful?: (req: Request, res: Response) => MaybePromise<boolean>;
  /** Answers a rejection instead of the default (status, headers already set, problem+json body). */
  handler?: (req: Request, res: Response, next: NextFunction, decision: Decision) => unknown;
}

/**
 * The middleware returned by {@link rateLimit}, with its limiter for events, `peek`, `reset` and
 * `close` (`undefined` when only `concurrency` is given), and its concurrency limit if any.
 */
export type ExpressRateLimitMiddleware<L extends Limiter | undefined = Limiter> = RequestHandler & {
  readonly limiter: L;
  /** The concurrency limit of the `concurrency` option: close it at shutdown to give shared permits back. */
  readonly concurrencyLimiter: ConcurrencyLimiter | undefined;
};

/** `req.rateLimit`, through an accessor on the app's request prototype (see requestSlot). */
const exposeDecision = requestSlot<Decision>('rateLimit');

/** The default key: `req.ip` (which honours Express's `trust proxy`), IPv6 grouped by /56. */
function defaultKey(req: Request): string {
  // Without `trust proxy`, req.ip is the socket's address: read it without parsing forwarding headers.
  const viaProxy = req.app?.settings?.['trust proxy'] as unknown;
  return ipKey(viaProxy ? req.ip : (req.socket?.remoteAddress ?? req.ip));
}

/**
 * Creates Express middleware (Express 4 and 5) that rate-limits requests, queueing those over the
 * limit when the `queue` option is set, and with `concurrency` limits the requests in flight per
 * key (a permit is taken after the rate limit admits, and released when the response closes).
 * Every response carries the IETF `RateLimit` and `RateLimit-Policy` headers; a rejection also
 * carries `Retry-After`. Bad options throw here.
 *
 * @example
 * app.use(rateLimit({ rate: 100, interval: '1m', queue: { maxSize: 20, maxWait: '2s' } }));
 * app.use('/export', rateLimit({ concurrency: 2, name: 'export' }));
 */
export function rateLimit(options: ExpressRateLimitOptions & { concurrency: number | ConcurrencyLimiter; rate?: undefined; limiter?: undefined }): ExpressRateLimitMiddleware<undefined>;
export function rateLimit(options: ExpressRateLimitOptions): ExpressRateLimitMiddleware;
export function rateLimit(options: ExpressRateLimitOptions): ExpressRateLimitMiddleware<Limiter | undefined> {
  // requestWasSuccessful is typed with Express's Response: the response it is given is the one the
  // middleware gets, Express's own (the shared options only know Node's ServerResponse, its base).
  const config = resolveHttpOptions<Request>(options as unknown as HttpRateLimitOptions<Request> & Record<string, unknown>, ['handler'], defaultKey);
  const handler = options.handler;
  const writeHeaders = headerWriter(config);

  const reject = async (req: Request, res: Response, next: NextFunction, decision: Decision): Promise<void> => {
    res.status(rejectionStatus(decision, config));
    if (handler !== undefined) {
      await handler(req, res, next, decision);
      return;
    }
    const body = await rejectionBody(decision, config, req);
    res.type(body.contentType).send(body.payload);
  };

  const { concurrency } = config;
  if (concurrency !== undefined) return withConcurrency(config.limiter, concurrency, { config, writeHeaders, reject });
  const limiter = config.limiter as Limiter;
  const { counting } = config;

  /** Answers a decided request: headers, `req.rateLimit`, then the next handler or the rejection. */
  const answer = (req: Request, res: Response, next: NextFunction, decision: Decision): void => {
    exposeDecision(req, decision);
    writeHeaders(decision, res);
    if (decision.allowed) {
      if (counting !== undefined) countByOutcome(counting, limiter, decision, req, res);
      return next();
    }
    reject(req, res, next, decision).catch(next);
  };

  /** The general path: async skip, key and cost, and waiting in the queue. */
  const decide = async (req: Request, res: Response, next: NextFunction, given?: { key: unknown; cost: unknown }): Promise<void> => {
    if (given === undefined && config.skip !== undefined && (await config.skip(req))) return next();
    const { key, cost } = await settledKeyAndCost(config, req, given);
    // A client that goes away while its request waits gives its place up at once.
    const decision = await takeWhileConnected(limiter, key, cost, res, await requestPriority(config, req));
    if (decision !== undefined) answer(req, res, next, decision);
  };

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (config.skip !== undefined) {
      decide(req, res, next).catch(next);
      return;
    }
    // The hot path: plain key and cost, and a store that answers at once, need no promise.
    let given;
    let key;
    try {
      key = config.key(req);
      const cost = typeof config.cost === 'function' ? config.cost(req) : config.cost;
      if (typeof key === 'string' && typeof cost === 'number') {
        const decision = limiter.tryTakeSync(key, cost);
        if (decision !== undefined) return answer(req, res, next, decision);
      }
      given = { key, cost };
    } catch (error) {
      // The cost function threw: a key promise already asked for is settled by nobody.
      ignoreRejection(key);
      return next(error);
    }
    decide(req, res, next, given).catch(next);
  };
  return Object.assign(middleware as RequestHandler, { limiter, concurrencyLimiter: undefined });
}

/** What the concurrency middleware shares with {@link rateLimit}: the options, and how headers and rejections are written. */
interface Answering {
  readonly config: ResolvedHttpOptions<Request>;
  readonly writeHeaders: HeaderWriter;
  readonly reject: (req: Request, res: Response, next: NextFunction, decision: Decision) => Promise<void>;
}

/** The middleware with a concurrency limit: the rate limit first (if any), then a permit held until the response closes. */
function withConcurrency(limiter: Limiter | undefined, concurrency: ConcurrencyLimiter, { config, writeHeaders, reject }: Answering): ExpressRateLimitMiddleware<Limiter | undefined> {
  /** The rate limit decided: a rejection is answered as usual; an admission goes on to the permit. */
  const rated = (req: Request, res: Response, next: NextFunction, key: string, cost: number, decision: Decision): void => {
    if (!decision.allowed) {
      exposeDecision(req, decision);
      writeHeaders(decision, res);
      reject(req, res, next, decision).catch(next);
      return;
    }
    acquire(req, res, next, key, cost, decision);
  };

  const acquire = (req: Request, res: Response, next: NextFunction, key: string, cost: number, decision: Decision | undefined): void => {
    const permits = concurrency.tryAcquireSync(key);
    if (permits !== undefined) return permitted(req, res, next, key, cost, decision, permits);
    concurrency.acquire(key).then(
      (later) => permitted(req, res, next, key, cost, decision, later),
      // The permit store failed: the rate limit's tokens were not used either.
      (error: unknown) => giveBack(limiter, key, cost, decision).then(() => next(error)),
    );
  };

  const permitted = (req: Request, res: Response, next: NextFunction, key: string, cost: number, decision: Decision | undefined, permits: PermitDecision): void => {
    if (permits.allowed) {
      releaseOnClose(res, permits.permit as Permit);
      // The client left before its permit came (the permit is released at once): the handler does
      // not run for nobody, and the rate limit's tokens go back.
      if (hasClosed(res)) return void giveBack(limiter, key, cost, decision);
    }
    exposeDecision(req, permits.allowed && decision !== undefined ? decision : permits);
    // A refusal describes the concurrency limit only: the rate limit's tokens are given back.
    writeHeaders(permits.allowed ? decision : undefined, res, permits);
    if (permits.allowed) {
      if (config.counting !== undefined && limiter !== undefined && decision !== undefined) countByOutcome(config.counting, limiter, decision, req, res);
      return next();
    }
    // The rate limit's tokens were not used: give them back before answering.
    giveBack(limiter, key, cost, decision).then(() => reject(req, res, next, permits)).catch(next);
  };

  const decideAll = async (req: Request, res: Response, next: NextFunction, given?: { key: unknown; cost: unknown }): Promise<void> => {
    if (given === undefined && config.skip !== undefined && (await config.skip(req))) return next();
    const { key, cost } = await settledKeyAndCost(config, req, given);
    if (limiter === undefined) return acquire(req, res, next, key, cost, undefined);
    const decision = await takeWhileConnected(limiter, key, cost, res, await requestPriority(config, req));
    if (decision !== undefined) rated(req, res, next, key, cost, decision);
  };

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (config.skip !== undefined) {
      decideAll(req, res, next).catch(next);
      return;
    }
    let given;
    let key;
    try {
      key = config.key(req);
      const cost = typeof config.cost === 'function' ? config.cost(req) : config.cost;
      if (typeof key === 'string' && typeof cost === 'number') {
        if (limiter === undefined) return acquire(req, res, next, key, cost, undefined);
        const decision = limiter.tryTakeSync(key, cost);
        if (decision !== undefined) return rated(req, res, next, key, cost, decision);
      }
      given = { key, cost };
    } catch (error) {
      // The cost function threw: a key promise already asked for is settled by nobody.
      ignoreRejection(key);
      return next(error);
    }
    decideAll(req, res, next, given).catch(next);
  };
  return Object.assign(middleware as RequestHandler, { limiter, concurrencyLimiter: concurrency });
}
