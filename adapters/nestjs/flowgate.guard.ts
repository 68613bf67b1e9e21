// The guard: finds a route's limits, takes them all-or-nothing (waiting in the queue), and maps the decision.

import { ServerResponse } from 'node:http';
import { Injectable, type CanActivate, type ExecutionContext, type Type } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import type { Permit, PermitDecision } from '../../src/concurrency/concurrency-limiter.js';
import type { Decision } from '../../src/decision.js';
import { hasClosed, watchDisconnect, type ClientDisconnect } from '../../src/http/client-disconnect.js';
import { bucketKey, decisionHeaders, headerWriter, ignoreRejection, requestPriority, permitHeaders, rejectionBody, rejectionStatus, type HeaderTarget } from '../../src/http/http-answer.js';
import type { MaybePromise } from '../../src/http/http-options.js';
import { releaseOnClose, type ClosingResponse } from '../../src/http/release-on-close.js';
import { countByOutcome } from '../../src/http/count-by-outcome.js';
import { localsOf, requestSlot } from '../../src/http/request-slot.js';
import { isConcurrencyOnly } from './declared-limits-check.js';
import { combinedHeaders, mergeHeaders } from './decision-headers.js';
import { RATE_LIMIT_METADATA, SKIP_RATE_LIMIT_METADATA } from './flowgate.constants.js';
import { FlowgateLimiters } from './flowgate-limiters.service.js';
import { FlowgateRejectedException } from './flowgate-rejected.exception.js';
import type { DeclaredRateLimit } from './rate-limit.decorator.js';
import type { RouteConcurrency, RouteLimit } from './route-limit.interface.js';
import type { SkippedLimits } from './skip-rate-limit.decorator.js';

/** A limit that admitted the request, with what it took. */
interface Taken {
  readonly limit: RouteLimit;
  readonly key: string;
  readonly cost: number;
  readonly decision: Decision;
}

/** A concurrency limit that admitted the request, with its permit. */
interface Held {
  readonly limit: RouteConcurrency;
  readonly decision: PermitDecision;
}

/** What a route is limited by: its rate limits, then its concurrency limits, in order. */
interface RoutePlan {
  readonly limits: readonly RouteLimit[];
  readonly concurrency: readonly RouteConcurrency[];
}

/** `request.rateLimit`: the decision with the fewest tokens left (or the rejecting one). */
const exposeDecision = requestSlot<Decision>('rateLimit');
/** `request.rateLimits`: every decision by limit name. */
const exposeDecisions = requestSlot<Record<string, Decision>>('rateLimits');

/** One header writer per limit options (the policy value and the quoted name are built once). */
const writers = new WeakMap<object, (decision: Decision, target: HeaderTarget) => void>();
function writerOf(config: RouteLimit['config']): (decision: Decision, target: HeaderTarget) => void {
  let writer = writers.get(config);
  if (writer === undefined) {
    writer = headerWriter(config);
    writers.set(config, writer);
  }
  return writer;
}

/**
 * What each request has taken so far, by request object: for each guard class, the limiters of its
 * rate limits and the concurrency limits it holds a permit of (flat: class, limit, class, limit...).
 * The guard may run more than once for one request (`APP_GUARD` plus `@UseGuards(FlowgateGuard)`,
 * or `@UseGuards` on the class and on the handler, each its own instance): a later run of the same
 * guard class skips what an earlier one took, so a request is counted once and holds one permit per
 * concurrency limit. A guard of another class (a subclass with its own `getKey` or `getCost`) takes
 * its limits as it would alone.
 */
const takenByRequest = new WeakMap<object, unknown[]>();
/**
 * Where a request of Nest on Express keeps its list instead: its `res.locals` under this symbol (a
 * key added to a dictionary Express makes per request, where a WeakMap entry per request cost 0.7 us
 * of a hello-world request's ~85 us in a CPU profile).
 */
const TAKEN = Symbol('flowgate.nest.taken');

/** The pairs (see {@link takenByRequest}) of `request`, if it has taken anything yet. */
function takenOf(request: object): unknown[] | undefined {
  const locals = localsOf(request);
  return (locals !== undefined ? locals[TAKEN] : takenByRequest.get(request)) as unknown[] | undefined;
}

/** Notes that the HTTP request of `context` has taken `limit` (a limiter or a concurrency limit) through a guard of class `guard`. */
function rememberTaken(context: ExecutionContext, guard: unknown, limit: object): void {
  const request = context.getArgByIndex<unknown>(0);
  if (typeof request !== 'object' || request === null) return;
  const pairs = takenOf(request);
  if (pairs !== undefined) {
    pairs.push(guard, limit);
    return;
  }
  const locals = localsOf(request);
  if (locals !== undefined) locals[TAKEN] = [guard, limit];
  else takenByRequest.set(request, [guard, limit]);
}

/** Whether `pairs` (see {@link takenByRequest}) hold `limit` taken by a guard of class `guard`. */
function takenBy(pairs: readonly unknown[], guard: unknown, limit: object): boolean {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === guard && pairs[i + 1] === limit) return true;
  return false;
}

/** `plan` without the limits the request of `context` has taken already through a guard of class `guard` (in an earlier run). */
function notTakenYet(context: ExecutionContext, guard: unknown, plan: RoutePlan): RoutePlan {
  const request = context.getArgByIndex<unknown>(0);
  const taken = typeof request === 'object' && request !== null ? takenOf(request) : undefined;
  if (taken === undefined) return plan;
  const limits = plan.limits.filter((limit) => !takenBy(taken, guard, limit.limiter));
  const concurrency = plan.concurrency.filter((limit) => !takenBy(taken, guard, limit.concurrency));
  return limits.length === plan.limits.length && concurrency.length === plan.concurrency.length ? plan : { limits, concurrency };
}

function isSkipped(skip: SkippedLimits | undefined, name: string): boolean {
  return skip === true || (skip !== undefined && skip.includes(name));
}

/**
 * Rate-limits the routes it guards: globally as `APP_GUARD`, or with `@UseGuards(FlowgateGuard)`
 * (it needs `FlowgateModule` imported once). A route's limits are the module's default limit and
 * its class's and handler's `@RateLimit`s, minus what `@SkipRateLimit` skips. They are taken in that
 * order, all-or-nothing: when one rejects, those already taken give their tokens back. A limit with
 * a queue makes `canActivate` wait for the request's turn; a client that disconnects meanwhile
 * leaves the queue. An admitted request gets the `RateLimit` headers and `request.rateLimit` (the
 * decision with the fewest tokens left) and `request.rateLimits` (every decision by limit name); a
 * rejected one gets `request.rateLimit` (the rejecting decision), for exception filters and logs.
 * When the guard runs more than once for one HTTP request (`APP_GUARD` and `@UseGuards(FlowgateGuard)`,
 * or `@UseGuards` on both the class and the handler), each limit is taken once: a later run of the
 * same guard class skips the limits and concurrency limits an earlier one took (a subclass takes its own).
 *
 * Subclass it to change how requests map to limits: `shouldSkip` (by default, every non-HTTP
 * context is skipped), `getKey`, `getCost` and `onRejected` are made for overriding, for example to
 * limit WebSocket or RPC handlers and throw their transport's exception.
 */
@Injectable()
export class FlowgateGuard implements CanActivate {
  /** The limits of each route, by class and handler: resolved once. */
  private readonly routes = new WeakMap<object, WeakMap<object, RoutePlan>>();

  /**
   * @param limiters - the app's limiters, from `FlowgateModule`
   * @param reflector - reads the `@RateLimit` and `@SkipRateLimit` metadata
   * @param adapterHost - gives the platform's HTTP adapter, to set headers on Express or Fastify
   */
  constructor(
    protected readonly limiters: FlowgateLimiters,
    protected readonly reflector: Reflector,
    protected readonly adapterHost: HttpAdapterHost,
  ) {}

  /** True once every limit of the route admitted the request (at once, or when its turn comes); throws when one rejects it. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    try {
      return this.activateNow(context);
    } catch (error) {
      // A throwing hook, or a bad @RateLimit found on first use: a rejection, like every error here.
      return Promise.reject(error);
    }
  }

  /** Decides at once when it can (one limit, plain key and cost, a store that answers at once), else goes async. */
  private activateNow(context: ExecutionContext): boolean | Promise<boolean> {
    const skip = this.shouldSkip(context);
    if (skip === true) return true;
    if (skip !== false) return Promise.resolve(skip).then((skipped) => skipped || this.activate(context, this.routePlanOf(context)));
    const plan = this.routePlanOf(context);
    const { limits } = plan;
    if (plan.concurrency.length > 0) return this.activate(context, plan);
    if (limits.length === 0) return true;
    if (limits.length > 1) return this.activate(context, plan);
    // The hot path: one limit, plain key and cost, a store that answers at once: no promise.
    const limit = limits[0] as RouteLimit;
    const key = this.getKey(context, limit);
    let cost;
    try {
      cost = this.getCost(context, limit);
    } catch (error) {
      // A key promise already asked for is settled by nobody.
      ignoreRejection(key);
      throw error;
    }
    const first = { key, cost };
    if (typeof first.key === 'string' && typeof first.cost === 'number') {
      const decision = limit.limiter.tryTakeSync(first.key, first.cost);
      if (decision?.allowed === true) {
        this.admitOne(context, limit, decision);
        return true;
      }
      if (decision !== undefined) return this.onRejected(context, decision, limit);
    }
    return this.activate(context, plan, first);
  }

  /** The general path: waits for each limit's decision (and the queue), then each concurrency limit's permit, then sets the headers. */
  private async activate(context: ExecutionContext, plan: RoutePlan, first?: { key: MaybePromise<string>; cost: MaybePromise<number> }): Promise<boolean> {
    const { limits } = plan;
    // Permits are held until the response closes: HTTP only.
    const concurrency = context.getType() === 'http' ? plan.concurrency : [];
    if (limits.length === 0 && concurrency.length === 0) return true;
    const taken = limits.length === 0 ? [] : await this.takeAll(context, limits, first);
    if (concurrency.length > 0) {
      const held = await this.acquireAll(context, concurrency, taken);
      // The client left meanwhile: nothing to run (the answer would go nowhere).
      if (held === undefined) return false;
      this.admitWithPermits(context, taken, held);
      return true;
    }
    if (taken.length === 1) {
      const only = taken[0] as Taken;
      this.admitOne(context, only.limit, only.decision);
    } else if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<object>();
      for (const { limit } of taken) rememberTaken(context, this.constructor, limit.limiter);
      this.countOutcomes(context, taken);
      exposeDecisions(request, Object.fromEntries(taken.map(({ limit, decision }) => [limit.name, decision])));
      exposeDecision(request, taken.reduce((a, b) => (b.decision.remaining < a.decision.remaining ? b : a)).decision);
      this.setHeaders(context, combinedHeaders(taken.map(({ limit, decision }) => ({ decision, config: limit.config }))));
    }
    return true;
  }

  /** An admitted request under one limit: `request.rateLimit(s)` and the headers. */
  private admitOne(context: ExecutionContext, limit: RouteLimit, decision: Decision): void {
    if (context.getType() !== 'http') return;
    // The HTTP arguments are (request, response, next): read them without switchToHttp(), which
    // builds three closures per call.
    const request = context.getArgByIndex<object>(0);
    rememberTaken(context, this.constructor, limit.limiter);
    exposeDecisions(request, { [limit.name]: decision });
    exposeDecision(request, decision);
    if (limit.config.counting !== undefined) this.countOutcomes(context, [{ limit, decision }]);
    const response: unknown = context.getArgByIndex(1);
    if (response instanceof ServerResponse) {
      // Nest on Express: the response is Node's own; write to it straight (no adapter call per
      // header). The writer gives up quietly on a response whose headers are sent already.
      writerOf(limit.config)(decision, response);
      return;
    }
    const adapter = this.adapterHost.httpAdapter;
    if (adapter === undefined || adapter.isHeadersSent(response)) return;
    writerOf(limit.config)(decision, { setHeader: (name: string, value: string) => adapter.setHeader(response, name, value) });
  }

  /** Whether the request passes without touching any limit. Default: every non-HTTP context, then the module's `skip`. */
  protected shouldSkip(context: ExecutionContext): MaybePromise<boolean> {
    if (context.getType() !== 'http') return true;
    return this.limiters.skip?.(context) ?? false;
  }

  /** The bucket (or permit) key of the request for `limit`. Default: the limit's `key`, else the module's, else the client IP. */
  protected getKey(context: ExecutionContext, limit: RouteLimit | RouteConcurrency): MaybePromise<string> {
    return limit.config.key(context);
  }

  /** The tokens the request costs under `limit`. Default: the limit's `cost`, else the module's, else 1. */
  protected getCost(context: ExecutionContext, limit: RouteLimit): MaybePromise<number> {
    const { cost } = limit.config;
    return typeof cost === 'function' ? cost(context) : cost;
  }

  /**
   * Answers a rejection by throwing. Default: sets the `RateLimit`, `RateLimit-Policy` and
   * `Retry-After` headers and throws {@link FlowgateRejectedException} with the status and body
   * (problem+json unless the `message` option says otherwise). Tokens of the route's other limits
   * are already given back, and permits of its concurrency limits released. `limit` is a
   * {@link RouteConcurrency} when a concurrency limit rejected (reason `'concurrency'`). Not called
   * for a client that went away while it waited.
   */
  protected async onRejected(context: ExecutionContext, decision: Decision, limit: RouteLimit | RouteConcurrency): Promise<never> {
    throw await this.rejection(context, decision, limit);
  }

  /** Takes every limit in turn; on a rejection or an error, gives back what was taken. */
  private async takeAll(context: ExecutionContext, limits: readonly RouteLimit[], first?: { key: MaybePromise<string>; cost: MaybePromise<number> }): Promise<Taken[]> {
    const taken: Taken[] = [];
    const disconnect = limits.some((limit) => limit.limiter.queueing) ? this.disconnectOf(context) : undefined;
    let rejected: { decision: Decision; limit: RouteLimit } | undefined;
    try {
      for (const limit of limits) {
        const given = limit === limits[0] ? first : undefined;
        // The first limit's key and cost were asked for together: await both (when one rejects, the other's rejection is handled too).
        const [askedKey, cost] = given === undefined ? [await this.getKey(context, limit), await this.getCost(context, limit)] : await Promise.all([given.key, given.cost]);
        const key = bucketKey(askedKey);
        const decision = await limit.limiter.take(key, { cost, signal: disconnect?.signal, priority: await requestPriority(limit.config, context) });
        if (!decision.allowed) {
          rejected = { decision, limit };
          break;
        }
        taken.push({ limit, key, cost, decision });
      }
    } catch (error) {
      await this.refund(taken);
      throw error;
    } finally {
      disconnect?.stop();
    }
    if (rejected === undefined) return taken;
    await this.refund(taken);
    // Nobody is listening any more: end the request without the hook; the answer goes nowhere.
    if (rejected.decision.reason === 'aborted') throw await this.rejection(context, rejected.decision, rejected.limit);
    return this.onRejected(context, rejected.decision, rejected.limit);
  }

  /** Gives back the tokens of `taken`; a dry-run decision marked `wouldReject` took none. */
  private async refund(taken: readonly Taken[]): Promise<void> {
    await Promise.all(taken.filter(({ decision }) => decision.wouldReject === undefined).map(({ limit, key, cost }) => limit.limiter.refund(key, cost)));
  }

  /**
   * Acquires a permit of every concurrency limit in turn, held until the response closes. When one
   * refuses (or an error is thrown), the permits already acquired are released and the rate
   * limits' tokens given back, and the refusal is answered through `onRejected`. `undefined` when
   * the client left before the permits came (they, and the rate tokens, are given back).
   */
  private async acquireAll(context: ExecutionContext, concurrency: readonly RouteConcurrency[], taken: readonly Taken[]): Promise<Held[] | undefined> {
    const held: Held[] = [];
    let rejected: { decision: Decision; limit: RouteConcurrency } | undefined;
    try {
      for (const limit of concurrency) {
        const decision = await limit.concurrency.acquire(bucketKey(await this.getKey(context, limit)));
        if (!decision.allowed) {
          rejected = { decision, limit };
          break;
        }
        held.push({ limit, decision });
      }
    } catch (error) {
      for (const { decision } of held) decision.permit?.release();
      await this.refund(taken);
      throw error;
    }
    if (rejected !== undefined) {
      for (const { decision } of held) decision.permit?.release();
      await this.refund(taken);
      return this.onRejected(context, rejected.decision, rejected.limit);
    }
    const response = this.rawResponseOf(context);
    if (response !== undefined && hasClosed(response)) {
      // The client left before its permits came: they go back at once, and so do the rate tokens;
      // the handler does not run for nobody.
      for (const { decision } of held) decision.permit?.release();
      await this.refund(taken);
      return undefined;
    }
    for (const { decision } of held) {
      if (response !== undefined) releaseOnClose(response, decision.permit as Permit);
      else decision.permit?.release();
    }
    return held;
  }

  /** An admitted request under rate and concurrency limits: `request.rateLimit(s)` and the headers of all. */
  private admitWithPermits(context: ExecutionContext, taken: readonly Taken[], held: readonly Held[]): void {
    const request = context.switchToHttp().getRequest<object>();
    for (const { limit } of taken) rememberTaken(context, this.constructor, limit.limiter);
    for (const { limit } of held) rememberTaken(context, this.constructor, limit.concurrency);
    this.countOutcomes(context, taken);
    const byName: Record<string, Decision> = Object.fromEntries(taken.map(({ limit, decision }) => [limit.name, decision]));
    for (const { limit, decision } of held) byName[limit.config.concurrencyPolicyName] = decision;
    exposeDecisions(request, byName);
    const tightest = taken.length === 0 ? undefined : taken.reduce((a, b) => (b.decision.remaining < a.decision.remaining ? b : a)).decision;
    exposeDecision(request, tightest ?? (held[0] as Held).decision);
    const rated = combinedHeaders(taken.map(({ limit, decision }) => ({ decision, config: limit.config })));
    this.setHeaders(context, held.reduce((headers, { limit, decision }) => mergeHeaders(headers, permitHeaders(decision, limit.config)), rated));
  }

  private async rejection(context: ExecutionContext, decision: Decision, limit: RouteLimit | RouteConcurrency): Promise<FlowgateRejectedException> {
    if (context.getType() === 'http') exposeDecision(context.switchToHttp().getRequest<object>(), decision);
    const headers = 'concurrency' in limit ? permitHeaders(decision, limit.config) : decisionHeaders(decision, limit.config);
    this.setHeaders(context, headers);
    const body = await rejectionBody(decision, limit.config, context);
    return new FlowgateRejectedException(decision, rejectionStatus(decision, limit.config), body, headers);
  }

  /** The limits of the route that the request of `context` has still to take (for HTTP, see {@link takenByRequest}). */
  private routePlanOf(context: ExecutionContext): RoutePlan {
    const plan = this.planOf(context);
    return context.getType() === 'http' ? notTakenYet(context, this.constructor, plan) : plan;
  }

  /** The limits of the route: module, class, handler, merged by name (inner wins), minus the skipped ones. */
  private planOf(context: ExecutionContext): RoutePlan {
    const classRef = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.routes.get(classRef);
    if (byHandler === undefined) {
      byHandler = new WeakMap();
      this.routes.set(classRef, byHandler);
    }
    let plan = byHandler.get(handler);
    if (plan === undefined) {
      plan = this.resolvePlan(classRef, handler);
      byHandler.set(handler, plan);
    }
    return plan;
  }

  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  private resolvePlan(classRef: Type<unknown>, handler: Function): RoutePlan {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
    const read = <T>(key: string, target: Function): T | undefined => this.reflector.get<T | undefined>(key, target);
    const classSkip = read<SkippedLimits>(SKIP_RATE_LIMIT_METADATA, classRef);
    const handlerSkip = read<SkippedLimits>(SKIP_RATE_LIMIT_METADATA, handler);
    const outer = new Map<string, RouteLimit>();
    const outerConcurrency = new Map<string, RouteConcurrency>();
    const { defaultLimit, defaultConcurrency } = this.limiters;
    if (defaultLimit !== undefined) outer.set(defaultLimit.name, defaultLimit);
    if (defaultConcurrency !== undefined) outerConcurrency.set(defaultConcurrency.name, defaultConcurrency);
    for (const declared of read<DeclaredRateLimit[]>(RATE_LIMIT_METADATA, classRef) ?? []) {
      this.declare(classRef, classRef.name, declared, outer, outerConcurrency, outer, outerConcurrency);
    }
    const inner = new Map<string, RouteLimit>();
    const innerConcurrency = new Map<string, RouteConcurrency>();
    for (const declared of read<DeclaredRateLimit[]>(RATE_LIMIT_METADATA, handler) ?? []) {
      this.declare(handler, `${classRef.name}.${handler.name}`, declared, outer, outerConcurrency, inner, innerConcurrency);
    }
    // A declared name replaces the outer limit of that name, both parts (a part it does not declare is inherited above).
    const replaced = (name: string): boolean => inner.has(name) || innerConcurrency.has(name);
    const kept = <L extends { readonly name: string }>(outerOnes: Map<string, L>, innerOnes: Map<string, L>): L[] =>
      [...[...outerOnes.values()].filter((limit) => !replaced(limit.name) && !isSkipped(classSkip, limit.name)), ...innerOnes.values()].filter(
        (limit) => !isSkipped(handlerSkip, limit.name),
      );
    const limits = kept(outer, inner);
    // Beside a rate limit of the same header name, a concurrency limit is named `<name>-concurrency` in headers.
    const rateNames = new Set(limits.map((limit) => limit.config.policyName));
    const concurrency = kept(outerConcurrency, innerConcurrency).map((limit) => {
      const headerName = limit.config.concurrencyPolicyName;
      return rateNames.has(headerName) ? { ...limit, config: { ...limit.config, concurrencyPolicyName: `${headerName}-concurrency` } } : limit;
    });
    return { limits, concurrency };
  }

  /** Resolves one declared limit (its rate part and its concurrency part) over the outer limits of its name, into `into`. */
  private declare(
    target: object,
    label: string,
    declared: DeclaredRateLimit,
    outer: Map<string, RouteLimit>,
    outerConcurrency: Map<string, RouteConcurrency>,
    into: Map<string, RouteLimit>,
    intoConcurrency: Map<string, RouteConcurrency>,
  ): void {
    const outerLimit = outer.get(declared.name);
    const outerPermits = outerConcurrency.get(declared.name);
    if (!isConcurrencyOnly(declared, outerLimit !== undefined, outerPermits !== undefined)) into.set(declared.name, this.limiters.limitFor(target, label, declared, outerLimit));
    if (declared.concurrency !== undefined || outerPermits !== undefined) {
      intoConcurrency.set(declared.name, this.limiters.concurrencyFor(target, label, declared, outerPermits));
    }
  }

  /**
   * For each admitted limit with `skipSuccessfulRequests` or `skipFailedRequests`: its tokens go back
   * once the response is over, if its outcome is one the limit skips. HTTP only (the outcome of an
   * RPC or WebSocket message is not an HTTP response).
   */
  private countOutcomes(context: ExecutionContext, taken: ReadonlyArray<{ limit: RouteLimit; decision: Decision }>): void {
    const response = this.rawResponseOf(context);
    if (response === undefined) return;
    for (const { limit, decision } of taken) {
      if (limit.config.counting !== undefined) countByOutcome(limit.config.counting, limit.limiter, decision, context, response as unknown as ServerResponse);
    }
  }

  /** The Node response of an HTTP context (Express's response, or Fastify's raw one), which emits `close`. */
  private rawResponseOf(context: ExecutionContext): (ClosingResponse & NodeJS.EventEmitter) | undefined {
    if (context.getType() !== 'http') return undefined;
    const response = context.switchToHttp().getResponse<{ raw?: NodeJS.EventEmitter } & Partial<NodeJS.EventEmitter>>();
    const raw = response?.raw ?? response;
    if (typeof raw?.once !== 'function' || typeof raw.off !== 'function') return undefined;
    return raw as ClosingResponse & NodeJS.EventEmitter;
  }

  /** Fires when the client closes the connection (Express response, or Fastify's raw response). */
  private disconnectOf(context: ExecutionContext): ClientDisconnect | undefined {
    const raw = this.rawResponseOf(context);
    return raw === undefined ? undefined : watchDisconnect(raw);
  }

  /** Sets response headers through the platform's adapter; nothing outside HTTP. */
  private setHeaders(context: ExecutionContext, headers: Record<string, string>): void {
    const adapter = this.adapterHost.httpAdapter;
    if (context.getType() !== 'http' || adapter === undefined) return;
    const response: unknown = context.switchToHttp().getResponse();
    if (adapter.isHeadersSent(response)) return;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
  }
}
