// Express middleware: maps a request to (key, cost) and a decision to an HTTP answer; the core decides.

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Decision } from '../../src/decision.js';
import { watchDisconnect } from '../../src/http/client-disconnect.js';
import { headerWriter, rejectionBody, rejectionStatus, requestKeyAndCost } from '../../src/http/http-answer.js';
import { resolveHttpOptions, type HttpRateLimitOptions } from '../../src/http/http-options.js';
import { ipKey } from '../../src/http/ip-key.js';
import { requestSlot } from '../../src/http/request-slot.js';
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
export interface ExpressRateLimitOptions extends HttpRateLimitOptions<Request> {
  /** Answers a rejection instead of the default (status, headers already set, problem+json body). */
  handler?: (req: Request, res: Response, next: NextFunction, decision: Decision) => unknown;
}

/** The middleware returned by {@link rateLimit}, with its limiter for events, `peek`, `reset` and `close`. */
export type ExpressRateLimitMiddleware = RequestHandler & { readonly limiter: Limiter };

/** `req.rateLimit`, through an accessor on the app's request prototype (see requestSlot). */
const exposeDecision = requestSlot<Decision>('rateLimit');

/** The default key: `req.ip` (which honours Express's `trust proxy`), IPv6 grouped by /56. */
function defaultKey(req: Request): string {
  // Without `trust proxy`, req.ip is the socket's address: read it without parsing forwarding headers.
  const viaProxy = req.app?.get('trust proxy');
  return ipKey(viaProxy ? req.ip : (req.socket?.remoteAddress ?? req.ip));
}

/**
 * Creates Express middleware (Express 4 and 5) that rate-limits requests, queueing those over the
 * limit when the `queue` option is set. Every response carries the IETF `RateLimit` and
 * `RateLimit-Policy` headers; a rejection also carries `Retry-After`. Bad options throw here.
 *
 * @example
 * app.use(rateLimit({ rate: 100, interval: '1m', queue: { maxSize: 20, maxWait: '2s' } }));
 */
export function rateLimit(options: ExpressRateLimitOptions): ExpressRateLimitMiddleware {
  const config = resolveHttpOptions<Request>(options as ExpressRateLimitOptions & Record<string, unknown>, ['handler'], defaultKey);
  const handler = options.handler;
  const { limiter } = config;
  const writeHeaders = headerWriter(config);

  /** Answers a decided request: headers, `req.rateLimit`, then the next handler or the rejection. */
  const answer = (req: Request, res: Response, next: NextFunction, decision: Decision): void => {
    exposeDecision(req, decision);
    if (!res.headersSent) writeHeaders(decision, res);
    if (decision.allowed) return next();
    reject(req, res, next, decision).catch(next);
  };

  const reject = async (req: Request, res: Response, next: NextFunction, decision: Decision): Promise<void> => {
    res.status(rejectionStatus(decision, config));
    if (handler !== undefined) {
      await handler(req, res, next, decision);
      return;
    }
    const body = await rejectionBody(decision, config, req);
    res.type(body.contentType).send(body.payload);
  };

  /** The general path: async skip, key and cost, and waiting in the queue. */
  const decide = async (req: Request, res: Response, next: NextFunction, given?: { key: unknown; cost: unknown }): Promise<void> => {
    if (given === undefined && config.skip !== undefined && (await config.skip(req))) return next();
    const { key, cost } = given === undefined ? await requestKeyAndCost(config, req) : { key: (await given.key) as string, cost: (await given.cost) as number };
    // A client that goes away while its request waits gives its place up at once.
    const disconnect = limiter.queueing ? watchDisconnect(res) : undefined;
    let decision: Decision;
    try {
      decision = await limiter.take(key, { cost, signal: disconnect?.signal });
    } finally {
      disconnect?.stop();
    }
    if (disconnect?.signal.aborted) return;
    answer(req, res, next, decision);
  };

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (config.skip !== undefined) {
      decide(req, res, next).catch(next);
      return;
    }
    // The hot path: plain key and cost, and a store that answers at once, need no promise.
    let given;
    try {
      const key = config.key(req);
      const cost = typeof config.cost === 'function' ? config.cost(req) : config.cost;
      if (typeof key === 'string' && typeof cost === 'number') {
        const decision = limiter.tryTakeSync(key, cost);
        if (decision !== undefined) return answer(req, res, next, decision);
      }
      given = { key, cost };
    } catch (error) {
      return next(error);
    }
    decide(req, res, next, given).catch(next);
  };
  return Object.assign(middleware as RequestHandler, { limiter });
}
