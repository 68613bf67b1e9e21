// Koa middleware: maps a context to (key, cost) and a decision to an HTTP answer; the core decides.

import type { Context, Middleware, Next } from 'koa';
import type { Decision } from '../../src/decision.js';
import { watchDisconnect } from '../../src/http/client-disconnect.js';
import { decisionHeaders, rejectionBody, rejectionStatus, requestKeyAndCost } from '../../src/http/http-answer.js';
import { resolveHttpOptions, type HttpRateLimitOptions } from '../../src/http/http-options.js';
import { ipKey } from '../../src/http/ip-key.js';
import type { Limiter } from '../../src/limiter.js';

declare module 'koa' {
  interface DefaultState {
    /** The rate-limit decision for this request, set by `flowgate/koa`. */
    rateLimit?: Decision;
  }
}

/** Options of {@link rateLimit}: the shared HTTP adapter options, plus a Koa `handler`. */
export interface KoaRateLimitOptions extends HttpRateLimitOptions<Context> {
  /** Answers a rejection instead of the default (status and headers already set, problem+json body). */
  handler?: (ctx: Context, next: Next, decision: Decision) => unknown;
}

/** The middleware returned by {@link rateLimit}, with its limiter for events, `peek`, `reset` and `close`. */
export type KoaRateLimitMiddleware = Middleware & { readonly limiter: Limiter };

/** The default key: `ctx.ip` (which honours `app.proxy`), IPv6 grouped by /56. */
function defaultKey(ctx: Context): string {
  return ipKey(ctx.ip || ctx.req.socket?.remoteAddress);
}

/**
 * Creates Koa middleware (Koa 2 and 3) that rate-limits requests, queueing those over the limit
 * when the `queue` option is set. The decision is in `ctx.state.rateLimit`; every response carries
 * the IETF `RateLimit` and `RateLimit-Policy` headers, a rejection also `Retry-After`. Errors of
 * the key, cost and skip functions go to Koa's error handling. Bad options throw here.
 *
 * @example
 * app.use(rateLimit({ rate: 100, interval: '1m', queue: { maxSize: 20, maxWait: '2s' } }));
 */
export function rateLimit(options: KoaRateLimitOptions): KoaRateLimitMiddleware {
  const config = resolveHttpOptions<Context>(options as KoaRateLimitOptions & Record<string, unknown>, ['handler'], defaultKey);
  const handler = options.handler;
  const { limiter } = config;

  const middleware = async (ctx: Context, next: Next): Promise<unknown> => {
    if (config.skip !== undefined && (await config.skip(ctx))) return next();
    const { key, cost } = await requestKeyAndCost(config, ctx);
    // A client that goes away while its request waits gives its place up at once.
    const disconnect = limiter.queueing ? watchDisconnect(ctx.res) : undefined;
    let decision: Decision;
    try {
      decision = await limiter.take(key, { cost, signal: disconnect?.signal });
    } finally {
      disconnect?.stop();
    }
    // Nobody is listening any more; Koa writes nothing to a closed response.
    if (disconnect?.signal.aborted) return undefined;
    ctx.state.rateLimit = decision;
    ctx.set(decisionHeaders(decision, config));
    if (decision.allowed) return next();
    ctx.status = rejectionStatus(decision, config);
    if (handler !== undefined) return handler(ctx, next, decision);
    const body = await rejectionBody(decision, config, ctx);
    ctx.type = body.contentType;
    ctx.body = body.payload;
    return undefined;
  };
  return Object.assign(middleware as Middleware, { limiter });
}
