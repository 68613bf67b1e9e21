// What metrics.observe() accepts (a limiter, a middleware, the NestJS limiters service) and the limiters in each.

import { FlowgateArgumentError } from '../../src/errors.js';
import type { ConcurrencyLimiter } from '../../src/concurrency/concurrency-limiter.js';
import type { Limiter } from '../../src/limiter.js';
import { briefly } from './metrics-options.js';

/** Anything that carries a limiter: the `flowgate/express` and `flowgate/koa` middleware, a NestJS `RouteLimit`. */
export interface HasLimiter {
  readonly limiter: Limiter | undefined;
  /** The middleware's concurrency limit, when it has one. */
  readonly concurrencyLimiter?: ConcurrencyLimiter | undefined;
}

/**
 * The `FlowgateLimiters` service of `flowgate/nestjs` (`app.get(FlowgateLimiters)`), by its shape,
 * so that this module needs no NestJS: the rate limiters made so far and a listener for each one
 * made later, and the same for its concurrency limits (a `@RateLimit` limit is made the first time
 * a route under it is guarded). A catalog without the two concurrency methods has rate limiters
 * only. Whichever method gives a limit, it is counted as what its shape says it is.
 */
export interface LimiterCatalog {
  /** The rate limiters made so far. */
  limiters(): readonly Limiter[];
  /** Calls `listener` with each rate limiter made from now on; returns a function that stops it. */
  onLimiter(listener: (limiter: Limiter) => void): () => void;
  /** The concurrency limits made so far. */
  concurrencyLimiters?(): readonly ConcurrencyLimiter[];
  /** Calls `listener` with each concurrency limit made from now on; returns a function that stops it. */
  onConcurrencyLimiter?(listener: (limiter: ConcurrencyLimiter) => void): () => void;
}

/** What {@link FlowgateMetrics.observe} accepts. */
export type MetricsSource = Limiter | ConcurrencyLimiter | HasLimiter | LimiterCatalog;

/** A catalog being watched: the limits (rate and concurrency) it gave so far, and how to stop. */
export interface CatalogWatch {
  readonly limiters: ReadonlySet<Limiter | ConcurrencyLimiter>;
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
  return typeof v === 'object' && v !== null && typeof v.limiters === 'function' && typeof v.onLimiter === 'function';
}

/** Whether `value` is a flowgate ConcurrencyLimiter (by shape, like {@link isLimiter}). */
export function isConcurrencyLimiter(value: unknown): value is ConcurrencyLimiter {
  const v = value as Partial<ConcurrencyLimiter> | null;
  return typeof v === 'object' && v !== null && typeof v.acquire === 'function' && typeof v.tryAcquireSync === 'function' && typeof v.on === 'function' && typeof v.name === 'string';
}

/**
 * The rate limiter and the concurrency limit of a source: a Limiter, a ConcurrencyLimiter, or
 * something that has either (a middleware); throws {@link FlowgateArgumentError} for anything else.
 */
export function limitersOf(source: unknown): { limiter?: Limiter; concurrency?: ConcurrencyLimiter } {
  if (isLimiter(source)) return { limiter: source };
  if (isConcurrencyLimiter(source)) return { concurrency: source };
  const carrier = source as Partial<HasLimiter> | null;
  if ((typeof carrier === 'object' || typeof carrier === 'function') && carrier !== null) {
    const limiter = isLimiter(carrier.limiter) ? carrier.limiter : undefined;
    const concurrency = isConcurrencyLimiter(carrier.concurrencyLimiter) ? carrier.concurrencyLimiter : undefined;
    if (limiter !== undefined || concurrency !== undefined) return { ...(limiter && { limiter }), ...(concurrency && { concurrency }) };
  }
  throw new FlowgateArgumentError(
    'source',
    briefly(source),
    'must be a flowgate Limiter or ConcurrencyLimiter, something with a .limiter or .concurrencyLimiter (the flowgate/express or flowgate/koa middleware), or the NestJS FlowgateLimiters service',
  );
}

/**
 * Calls `found` once with each limit of the catalog now, rate limiters then concurrency limits, and
 * with each one it makes from now on; `stop` ends it. A limit is recognised by its shape
 * ({@link isLimiter}, {@link isConcurrencyLimiter}); anything else the catalog gives is ignored.
 */
export function watchCatalog(catalog: LimiterCatalog, found: (limit: Limiter | ConcurrencyLimiter) => void): CatalogWatch {
  const limiters = new Set<Limiter | ConcurrencyLimiter>();
  const add = (limit: unknown): void => {
    if (!(isLimiter(limit) || isConcurrencyLimiter(limit)) || limiters.has(limit)) return;
    limiters.add(limit);
    found(limit);
  };
  for (const limiter of catalog.limiters()) add(limiter);
  for (const limiter of catalog.concurrencyLimiters?.() ?? []) add(limiter);
  const stops = [catalog.onLimiter(add)];
  if (typeof catalog.onConcurrencyLimiter === 'function') stops.push(catalog.onConcurrencyLimiter(add));
  return { limiters, stop: () => stops.forEach((stop) => stop()) };
}
