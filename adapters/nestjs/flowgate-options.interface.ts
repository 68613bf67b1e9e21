// The options of FlowgateModule (sync and async) and of the @RateLimit decorator.

import type { ExecutionContext, InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';
import type { Duration } from '../../src/duration.js';
import type { HttpRateLimitOptions, MaybePromise } from '../../src/http/http-options.js';
import type { QueueOptions } from '../../src/limiter-options.js';
import type { ServerResponse } from 'node:http';

/**
 * Options of `FlowgateModule.forRoot`: the options of `flowgate/express`, with an execution context
 * where Express passes a request.
 *
 * - The limiter options (`rate`, `interval`, `burst`, `queue`, `name`) or a `limiter` define the
 *   module's default limit, applied app-wide (one bucket per key) to every route the guard
 *   protects. Without them, only routes with `@RateLimit` are limited.
 * - `key`, `cost`, `statusCode`, `message` and `headers` also apply to every `@RateLimit` limit
 *   that does not set its own; `skip` applies to every guarded request.
 * - `skipSuccessfulRequests`, `skipFailedRequests` and `requestWasSuccessful` describe the default
 *   limit: they apply to it and to the `@RateLimit` limits of its name only, not to limits of
 *   other names (those count every request unless they set their own).
 * - `concurrency` limits the requests in flight per key, app-wide (beside the default limit, or alone).
 * - `store` (and `clock`) are shared by all limits, so a shared store limits the whole cluster.
 *
 * The module owns what it is given: at shutdown it closes its limiters, then the `store`.
 */
export type FlowgateModuleOptions = HttpRateLimitOptions<ExecutionContext>;

/** A class that creates the module options, for `forRootAsync({ useClass })` or `({ useExisting })`. */
export interface FlowgateOptionsFactory {
  /** Returns the module options (or a promise of them). */
  createFlowgateOptions(): MaybePromise<FlowgateModuleOptions>;
}

/** Options of `FlowgateModule.forRootAsync`: exactly one of `useFactory`, `useClass` or `useExisting`. */
export interface FlowgateModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Providers passed to `useFactory`, in order. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Creates the options from the injected providers. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  useFactory?: (...args: any[]) => MaybePromise<FlowgateModuleOptions>;
  /** A class the module instantiates to create the options. */
  useClass?: Type<FlowgateOptionsFactory>;
  /** A provider, already available through `imports`, that creates the options. */
  useExisting?: Type<FlowgateOptionsFactory>;
}

/**
 * One limit of `@RateLimit()`. A limit whose `name` matches a limit from an outer level (the module's
 * default limit, or the controller class's limit for a handler) overrides it field by field: fields
 * not given are taken from the outer limit. When it changes none of `rate`, `interval`, `burst`,
 * `queue`, `strict`, it spends from the outer limit's buckets (with its own `cost` or `key`);
 * otherwise it is a limit of its own, with one bucket per key shared by every route under the class
 * or handler that declares it. Its buckets live in the module's store under the namespace
 * `Class:name` (class) or `Class.handler:name` (handler), the same in every process of the app.
 *
 * `concurrency` adds (or, on an inner limit, replaces) a concurrency limit of that name: at most
 * that many requests in flight per key, for every route under the class or handler that declares
 * it, each holding a permit until its response closes. A limit may have only `concurrency`; an inner
 * limit without it keeps the outer limit's permits (with its own `key`). Under an outer limit of its
 * name that has `concurrency` but no rate, an inner limit that sets no rate option (`rate`,
 * `interval`, `burst`, `queue`, `strict`, `cost`, `priority`) is such a concurrency limit only.
 */
export interface RateLimitOptions {
  /** The limit's name: the policy name in headers, and what `@SkipRateLimit(name)` skips. Default `'default'`. */
  name?: string;
  /** Tokens added per `interval`. Required unless an outer limit of the same name gives it, or the limit is a concurrency limit only (see above). */
  rate?: number;
  /** The refill interval. Default `'1s'` (or the outer limit's). */
  interval?: Duration;
  /** Bucket capacity. Default `ceil(rate)` when this limit sets `rate`; else the outer limit's burst. */
  burst?: number;
  /** Let requests over the limit wait: `true` or the queue's bounds. Default off (or the outer limit's). */
  queue?: boolean | QueueOptions;
  /** With a shared store, make every take one atomic update of the shared bucket (exact, for low rates). Default false (or the outer limit's). */
  strict?: boolean;
  /** Tokens a request costs: a number, or a (sync or async) function of the execution context. */
  cost?: number | ((context: ExecutionContext) => MaybePromise<number>);
  /** The bucket key of a request (sync or async). Default: the module's `key`, else the client IP. */
  key?: (context: ExecutionContext) => MaybePromise<string>;
  /** The request's priority in this limit's queue: a number or a (sync or async) function. Default: the module's, else 0. */
  priority?: number | ((context: ExecutionContext) => MaybePromise<number>);
  /** At most this many requests in flight per key (an integer >= 1), shared with the module's store. */
  concurrency?: number;
  /**
   * An admitted request whose response succeeded gives this limit's tokens back once the response is
   * over: only failures count (e.g. failed logins). Default false, or the outer limit's of this name.
   */
  skipSuccessfulRequests?: boolean;
  /**
   * An admitted request whose response failed (status 400 or more by default), or whose client went
   * away first, gives this limit's tokens back. Default false, or the outer limit's of this name.
   */
  skipFailedRequests?: boolean;
  /** Whether a finished response succeeded, for the two options above; `res` is Node's `ServerResponse`. Default: `res.statusCode < 400`, or the outer limit's. */
  requestWasSuccessful?: (context: ExecutionContext, res: ServerResponse) => MaybePromise<boolean>;
}
