// The limiters of a Nest app: the module's default limit and one per declared (class or handler, name), reported
// to listeners (metrics) as they are made, closed at shutdown.

import { setImmediate } from 'node:timers';
import { Inject, Injectable, type BeforeApplicationShutdown, type ExecutionContext, type OnApplicationShutdown, type OnModuleInit, type Type } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { hasBrand } from '../../src/brand.js';
import type { ConcurrencyLimiter } from '../../src/concurrency/concurrency-limiter.js';
import { FlowgateConfigError } from '../../src/errors.js';
import { resolveCounting, resolveHttpOptions, type MaybePromise } from '../../src/http/http-options.js';
import { statusBelow400 } from '../../src/http/count-by-outcome.js';
import type { Limiter } from '../../src/limiter.js';
import type { Store } from '../../src/store.js';
import { checkDeclaredLimits, inheritRule, missingRateError, sharedLabelError } from './declared-limits-check.js';
import { DEFAULT_LIMIT_NAME, FLOWGATE_OPTIONS, RATE_LIMIT_METADATA } from './flowgate.constants.js';
import type { FlowgateModuleOptions } from './flowgate-options.interface.js';
import type { DeclaredRateLimit } from './rate-limit.decorator.js';
import { requestIpKey } from './request-ip-key.js';
import type { LimitShape, RouteConcurrency, RouteLimit } from './route-limit.interface.js';

const SHAPE_KEYS = ['rate', 'interval', 'burst', 'queue', 'strict'] as const;
/** Module options that describe the default limit itself rather than every limit. */
const DEFAULT_LIMIT_KEYS = ['rate', 'interval', 'burst', 'queue', 'name', 'limiter', 'policyName', 'strict', 'concurrency', 'skipSuccessfulRequests', 'skipFailedRequests', 'requestWasSuccessful'];

/** `object` without its undefined entries, so that defaults apply to them. */
function defined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * The limit already made for `namespace` when `target` declared it; a FlowgateConfigError when
 * another class or handler of the same label did (two limits must not share buckets or permits).
 */
function knownLimit<L>(made: ReadonlyMap<string, { readonly target: object; readonly limit: L }>, namespace: string, target: object, label: string, name: string): L | undefined {
  const known = made.get(namespace);
  if (known === undefined || known.target === target) return known?.limit;
  throw sharedLabelError(name, label);
}

/** The shape fields that `limit` sets. */
function shapeOf(limit: LimitShape): LimitShape {
  return defined({ rate: limit.rate, interval: limit.interval, burst: limit.burst, queue: limit.queue, strict: limit.strict });
}

/**
 * Creates and keeps the limiters of the app. The module's default limit is made at startup (bad
 * module options fail the bootstrap); a `@RateLimit` limit is made the first time a route under it
 * is guarded, then reused: one limiter per (class or handler, name). The rate limiters made so far
 * are listed by {@link FlowgateLimiters.limiters} and each later one is reported to
 * {@link FlowgateLimiters.onLimiter}; the concurrency limits likewise by
 * {@link FlowgateLimiters.concurrencyLimiters} and {@link FlowgateLimiters.onConcurrencyLimiter}
 * (`flowgateMetrics().observe(service)` uses all four). At shutdown every limiter is closed first
 * (waiting requests are answered 503 so the server can stop), then the module's store.
 */
@Injectable()
export class FlowgateLimiters implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  /** The module's default limit, applied to every guarded route; absent when the options define none. */
  readonly defaultLimit: RouteLimit | undefined;
  /** Rate limiters made so far (default and declared), in order. */
  private readonly known = new Set<Limiter>();
  private readonly limiterListeners = new Set<(limiter: Limiter) => void>();
  /** The module's concurrency limit (`concurrency`), applied to every guarded route; absent without it. */
  readonly defaultConcurrency: RouteConcurrency | undefined;
  /** Concurrency limits made so far (default and declared), in order. */
  private readonly knownConcurrency = new Set<ConcurrencyLimiter>();
  private readonly concurrencyListeners = new Set<(limiter: ConcurrencyLimiter) => void>();
  /** The module's `skip` function, if any. */
  readonly skip: ((context: ExecutionContext) => MaybePromise<boolean>) | undefined;
  private readonly options: FlowgateModuleOptions;
  /** Declared limits by bucket namespace (`Class.handler:name`), with the class or handler that declared each. */
  private readonly declared = new Map<string, { readonly target: object; readonly limit: RouteLimit }>();
  /** Declared concurrency limits by permit namespace, the same way. */
  private readonly declaredConcurrency = new Map<string, { readonly target: object; readonly limit: RouteConcurrency }>();
  private readonly owned: Limiter[] = [];
  private readonly ownedConcurrency: ConcurrencyLimiter[] = [];
  private closed = false;
  private readonly discovery: DiscoveryService;
  private readonly reflector: Reflector;

  /**
   * @param options - the module options; validated here
   * @param discovery - lists the app's controllers, whose `@RateLimit` limits are checked at startup
   * @param reflector - reads their metadata
   */
  constructor(@Inject(FLOWGATE_OPTIONS) options: FlowgateModuleOptions, discovery: DiscoveryService, reflector: Reflector) {
    this.options = options;
    this.discovery = discovery;
    this.reflector = reflector;
    if (options.rate !== undefined || options.limiter !== undefined || options.concurrency !== undefined) {
      const config = resolveHttpOptions<ExecutionContext>(options as FlowgateModuleOptions & Record<string, unknown>, [], requestIpKey);
      const name = options.limiter?.name ?? options.name ?? DEFAULT_LIMIT_NAME;
      const { limiter, concurrency } = config;
      if (limiter !== undefined) {
        const policy = limiter.policy;
        const shape: LimitShape =
          options.limiter === undefined
            ? shapeOf(options)
            : { rate: policy.rate, interval: policy.intervalMs, burst: policy.burst, queue: limiter.queueing || undefined, strict: policy.strict };
        this.defaultLimit = { name, limiter, config, shape };
        this.known.add(limiter);
        this.owned.push(limiter);
      } else {
        this.defaultLimit = undefined;
      }
      this.defaultConcurrency = concurrency === undefined ? undefined : { name, concurrency, config };
      if (concurrency !== undefined) this.knownConcurrency.add(concurrency);
      if (concurrency !== undefined && !hasBrand<ConcurrencyLimiter>(options.concurrency, 'ConcurrencyLimiter')) this.ownedConcurrency.push(concurrency);
      this.skip = config.skip;
    } else {
      const limitOnly = DEFAULT_LIMIT_KEYS.find((k) => k !== 'rate' && (options as Record<string, unknown>)[k] !== undefined);
      if (limitOnly !== undefined) {
        throw new FlowgateConfigError(limitOnly, (options as Record<string, unknown>)[limitOnly], 'describes the default limit, which needs a rate, a limiter or a concurrency');
      }
      // Validates the shared options now, with a stand-in limit that is closed at once.
      const config = resolveHttpOptions<ExecutionContext>({ ...(options as Record<string, unknown>), rate: 1 }, [], requestIpKey);
      void config.limiter?.close();
      this.defaultLimit = undefined;
      this.defaultConcurrency = undefined;
      this.skip = config.skip;
    }
  }

  /**
   * Checks the `@RateLimit` limits of every controller of the app, so that a limit that cannot be
   * resolved (no rate of its own and no outer limit of its name, or a bucket namespace shared by
   * two classes of the same name) fails the bootstrap rather than its route's first request.
   */
  onModuleInit(): void {
    const controllers = this.discovery
      .getControllers()
      .map((wrapper) => wrapper.metatype)
      .filter((metatype): metatype is Type<unknown> => typeof metatype === 'function');
    checkDeclaredLimits(
      controllers,
      this.defaultLimit?.name,
      (target) => this.reflector.get<DeclaredRateLimit[] | undefined>(RATE_LIMIT_METADATA, target),
      this.defaultConcurrency?.name,
      { skipSuccessfulRequests: this.defaultLimit?.config.counting?.skipSuccessful, skipFailedRequests: this.defaultLimit?.config.counting?.skipFailed },
    );
  }

  /**
   * The limit `declared` on `target` (a controller class or a handler, `label` naming it), over the
   * `outer` limit of the same name if any. Created on first use, then the same object is returned.
   * Throws {@link FlowgateConfigError} when the limit has no rate, or when another class or handler
   * of the same label already uses its bucket namespace.
   */
  limitFor(target: object, label: string, declared: DeclaredRateLimit, outer: RouteLimit | undefined): RouteLimit {
    const namespace = `${label}:${declared.name}`;
    const known = knownLimit(this.declared, namespace, target, label, declared.name);
    if (known !== undefined) return known;
    const limit = this.create(namespace, label, declared, outer);
    this.declared.set(namespace, { target, limit });
    // First used while the app shuts down: answer 503 like every other limit.
    if (this.closed) void limit.limiter.close();
    if (!this.known.has(limit.limiter)) {
      this.known.add(limit.limiter);
      for (const listener of [...this.limiterListeners]) listener(limit.limiter);
    }
    return limit;
  }

  /** Every rate limiter of the app so far: the module's default limit's, and each `@RateLimit` limit's made yet. */
  limiters(): Limiter[] {
    return [...this.known];
  }

  /**
   * Calls `listener` with each rate limiter made from now on (a `@RateLimit` limit is made the first
   * time a route under it is guarded), for metrics and logs. Returns a function that stops it.
   */
  onLimiter(listener: (limiter: Limiter) => void): () => void {
    this.limiterListeners.add(listener);
    return () => void this.limiterListeners.delete(listener);
  }

  /**
   * Every concurrency limit of the app so far: the module's (`concurrency`, made at startup), and
   * each `@RateLimit({ concurrency })` limit made yet. A `@RateLimit` limit without `concurrency`
   * that keeps an outer limit's permits adds none: it shares that limit's.
   */
  concurrencyLimiters(): ConcurrencyLimiter[] {
    return [...this.knownConcurrency];
  }

  /**
   * Calls `listener` with each concurrency limit made from now on (a `@RateLimit({ concurrency })`
   * limit is made the first time a route under it is guarded), for metrics and logs. Returns a
   * function that stops it.
   */
  onConcurrencyLimiter(listener: (limiter: ConcurrencyLimiter) => void): () => void {
    this.concurrencyListeners.add(listener);
    return () => void this.concurrencyListeners.delete(listener);
  }

  /**
   * The concurrency limit `declared` on `target` (`label` naming it), over the `outer` concurrency
   * limit of the same name if any: its own permits when it sets `concurrency`, else the outer
   * limit's (with this limit's `key`). Created on first use, then the same object is returned.
   * Throws {@link FlowgateConfigError} when another class or handler of the same label already uses
   * its permit namespace.
   */
  concurrencyFor(target: object, label: string, declared: DeclaredRateLimit, outer: RouteConcurrency | undefined): RouteConcurrency {
    const namespace = `${label}:${declared.name}`;
    const known = knownLimit(this.declaredConcurrency, namespace, target, label, declared.name);
    if (known !== undefined) return known;
    const key = declared.key ?? outer?.config.key ?? this.options.key;
    let limit: RouteConcurrency;
    if (declared.concurrency === undefined && outer !== undefined) {
      limit = { name: declared.name, concurrency: outer.concurrency, config: { ...outer.config, ...defined({ key }) } };
    } else {
      const { statusCode, message, headers, store, dryRun } = this.options;
      const config = resolveHttpOptions<ExecutionContext>(
        defined({ concurrency: declared.concurrency, name: namespace, store, dryRun, key, statusCode, message, headers, policyName: declared.name }),
        [],
        requestIpKey,
      );
      limit = { name: declared.name, concurrency: config.concurrency as ConcurrencyLimiter, config };
      this.ownedConcurrency.push(limit.concurrency);
      if (this.closed) void limit.concurrency.close();
    }
    this.declaredConcurrency.set(namespace, { target, limit });
    if (!this.knownConcurrency.has(limit.concurrency)) {
      this.knownConcurrency.add(limit.concurrency);
      for (const listener of [...this.concurrencyListeners]) listener(limit.concurrency);
    }
    return limit;
  }

  /** Closes every limiter: waiting requests are answered 503, later ones too; concurrency limits give their idle shared permits back. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const limiters = [...this.owned, ...[...this.declared.values()].map(({ limit }) => limit.limiter)];
    await Promise.all([...new Set(limiters)].map((limiter) => limiter.close()));
    await Promise.all(this.ownedConcurrency.map((concurrency) => concurrency.close()));
    // Let the guards write their 503s before the server stops (it may cut open connections).
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Closes the module's store, once the HTTP server has stopped. */
  async onApplicationShutdown(): Promise<void> {
    await this.beforeApplicationShutdown();
    await (this.options.store as Store | undefined)?.close();
  }

  private create(namespace: string, label: string, declared: DeclaredRateLimit, outer: RouteLimit | undefined): RouteLimit {
    const own = shapeOf(declared);
    const key = declared.key ?? outer?.config.key ?? this.options.key;
    const cost = declared.cost ?? outer?.config.cost ?? this.options.cost;
    const priority = declared.priority ?? outer?.config.priority ?? this.options.priority;
    // Which outcomes give tokens back: field by field, this limit's over the outer limit's of its name.
    // (An inherited requestWasSuccessful only with a flag still on: a limit that turns both off
    // keeps no rule, where one it sets itself without a flag is an error.)
    const counted = outer?.config.counting;
    const { skipSuccessfulRequests, skipFailedRequests } = inheritRule(declared, counted && { skipSuccessfulRequests: counted.skipSuccessful, skipFailedRequests: counted.skipFailed });
    const inheritedRule = counted?.wasSuccessful === statusBelow400 || !(skipSuccessfulRequests || skipFailedRequests) ? undefined : counted?.wasSuccessful;
    const counting = { skipSuccessfulRequests, skipFailedRequests, requestWasSuccessful: declared.requestWasSuccessful ?? inheritedRule };
    if (outer !== undefined && SHAPE_KEYS.every((k) => own[k] === undefined)) {
      // Same buckets as the outer limit; only the key, cost or counting of this route differ.
      const config = { ...outer.config, ...defined({ key, cost, priority }), counting: resolveCounting(counting, outer.limiter) };
      return { name: declared.name, limiter: outer.limiter, config, shape: outer.shape };
    }
    // A rate of its own brings its own default burst (ceil(rate)), as a live policy change does:
    // whether the outer limit spelled its burst out must not change this one.
    const { burst: outerBurst, ...outerRest } = outer?.shape ?? {};
    const shape: LimitShape = { ...outerRest, ...(own.rate === undefined && outerBurst !== undefined && { burst: outerBurst }), ...own };
    if (shape.rate === undefined) {
      throw missingRateError(declared.name, label);
    }
    const { statusCode, message, headers, store, clock, dryRun } = this.options;
    const config = resolveHttpOptions<ExecutionContext>(
      defined({ ...shape, name: namespace, store, clock, dryRun, key, cost, priority, statusCode, message, headers, policyName: declared.name, ...counting }),
      [],
      requestIpKey,
    );
    return { name: declared.name, limiter: config.limiter as Limiter, config, shape };
  }
}
