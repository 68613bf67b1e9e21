// One limit as it applies to a route: its name, its limiter, and how requests map to key and cost.

import type { ExecutionContext } from '@nestjs/common';
import type { ConcurrencyLimiter } from '../../src/concurrency/concurrency-limiter.js';
import type { Duration } from '../../src/duration.js';
import type { ResolvedHttpOptions } from '../../src/http/http-options.js';
import type { Limiter } from '../../src/limiter.js';
import type { QueueOptions } from '../../src/limiter-options.js';

/** The bucket figures a limit was made from, as given (inherited by a same-named inner limit). */
export interface LimitShape {
  readonly rate?: number;
  readonly interval?: Duration;
  readonly burst?: number;
  readonly queue?: boolean | QueueOptions;
  readonly strict?: boolean;
}

/** A limit that applies to a route, as the guard's hooks receive it. */
export interface RouteLimit {
  /** The limit's name (`'default'` unless named), as in `@RateLimit({ name })` and `@SkipRateLimit(name)`. */
  readonly name: string;
  /** The limiter whose buckets the route spends from; shared by every route the limit covers. */
  readonly limiter: Limiter;
  /** Key and cost functions, status, message and header form of the limit, validated. */
  readonly config: ResolvedHttpOptions<ExecutionContext>;
  /** The bucket figures it was made from. */
  readonly shape: LimitShape;
}

/** A concurrency limit that applies to a route: at most `concurrency.max` requests of a key in flight. */
export interface RouteConcurrency {
  /** The limit's name, as in `@RateLimit({ name, concurrency })` and `@SkipRateLimit(name)`. */
  readonly name: string;
  /** The permits the route's requests hold; shared by every route the limit covers. */
  readonly concurrency: ConcurrencyLimiter;
  /** Key function, status, message and header form of the limit, validated (`concurrencyPolicyName` names it in headers). */
  readonly config: ResolvedHttpOptions<ExecutionContext>;
}
