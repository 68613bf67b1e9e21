// What metrics.observe() accepts (a limiter, a middleware, the NestJS limiters service) and the limiters in each.

import { FlowgateArgumentError } from '../../src/errors.js';
import type { Limiter } from '../../src/limiter.js';
import { briefly } from './metrics-options.js';

/** Anything that carries a limiter: the `flowgate/express` and `flowgate/koa` middleware, a NestJS `RouteLimit`. */
export interface HasLimiter {
  readonly limiter: Limiter;
}

/**
 * The `FlowgateLimiters` service of `flowgate/nestjs` (`app.get(FlowgateLimiters)`), by its shape,
 * so that this module needs no NestJS: the module's default limit, and `limitFor`, which creates
 * each `@RateLimit` limit the first time a route under it is guarded.
 */
export interface LimiterCatalog {
  readonly defaultLimit: HasLimiter | undefined;
  limitFor(...args: never[]): HasLimiter;
}

/** What {@link FlowgateMetrics.observe} accepts. */
export type MetricsSource = Limiter | HasLimiter | LimiterCatalog;

/** A catalog being watched: the limiters it gave so far, and how to stop. */
export interface CatalogWatch {
  readonly limiters: ReadonlySet<Limiter>;
  stop(): void;
}

/** Whether `value` is a flowgate Limiter (by shape: the app may load flowgate's ESM and CommonJS builds both). */
export function isLimiter(value: unknown): value is Limiter {
  const v = value as Partial<Limiter> | null;
  return typeof v === 'object' && v !== null && typeof v.take === 'function' && typeof v.on === 'function' && typeof v.off === 'function' && typeof v.name === 'string';
}

/** Whether `value` is the NestJS limiters service (or anything of its shape). */
export function isLimiterCatalog(value: unknown): value is LimiterCatalog {
  const v = value as Partial<LimiterCatalog> | null;
  return typeof v === 'object' && v !== null && typeof v.limitFor === 'function' && 'defaultLimit' in v;
}

/** The limiter of a Limiter or of something that has one; throws {@link FlowgateArgumentError} for anything else. */
export function limiterOf(source: unknown): Limiter {
  if (isLimiter(source)) return source;
  const carrier = source as Partial<HasLimiter> | null;
  if ((typeof carrier === 'object' || typeof carrier === 'function') && carrier !== null) {
    if (isLimiter(carrier.limiter)) return carrier.limiter;
    if ('concurrencyLimiter' in carrier && carrier.limiter === undefined) {
      throw new FlowgateArgumentError('source', briefly(source), 'has no rate limit (concurrency only): flowgate/metrics counts the decisions of rate limiters');
    }
  }
  throw new FlowgateArgumentError(
    'source',
    briefly(source),
    'must be a flowgate Limiter, something with a .limiter (the flowgate/express or flowgate/koa middleware), or the NestJS FlowgateLimiters service',
  );
}

/**
 * Calls `found` with the catalog's default limiter now, and with every limiter `limitFor` returns
 * from now on (it is called once per class or handler, not per request). Wraps `limitFor` on this
 * one instance; `stop` puts it back.
 */
export function watchCatalog(catalog: LimiterCatalog, found: (limiter: Limiter) => void): CatalogWatch {
  const limiters = new Set<Limiter>();
  let active = true;
  const add = (limiter: unknown): void => {
    // Only rate limiters have decisions to count (a limit may be a concurrency limit only).
    if (!active || !isLimiter(limiter) || limiters.has(limiter)) return;
    limiters.add(limiter);
    found(limiter);
  };
  if (catalog.defaultLimit !== undefined) add(catalog.defaultLimit.limiter);
  const own = Object.getOwnPropertyDescriptor(catalog, 'limitFor');
  const original = catalog.limitFor;
  const limitFor = function (this: LimiterCatalog, ...args: never[]): HasLimiter {
    const limit = original.apply(this, args);
    add(limit.limiter);
    return limit;
  };
  Object.defineProperty(catalog, 'limitFor', { value: limitFor, configurable: true, writable: true, enumerable: false });
  return {
    limiters,
    stop: () => {
      active = false;
      // Wrapped again since (another metrics instance)? Then ours stays in the chain, inactive.
      if (catalog.limitFor !== limitFor) return;
      if (own !== undefined) Object.defineProperty(catalog, 'limitFor', own);
      else delete (catalog as Partial<LimiterCatalog>).limitFor;
    },
  };
}
