// @RateLimit(): declares rate limits on a controller class or a route handler; it only writes metadata.

import { FlowgateConfigError } from '../../src/errors.js';
import { rejectUnknownOptions, requireNumber, resolveLimiterOptions } from '../../src/limiter-options.js';
import { DEFAULT_LIMIT_NAME, RATE_LIMIT_METADATA } from './flowgate.constants.js';
import type { RateLimitOptions } from './flowgate-options.interface.js';

/** A limit as declared, with its name filled in. */
export type DeclaredRateLimit = RateLimitOptions & { readonly name: string };

const KNOWN = ['name', 'rate', 'interval', 'burst', 'queue', 'strict', 'cost', 'key', 'priority', 'concurrency', 'skipSuccessfulRequests', 'skipFailedRequests', 'requestWasSuccessful'];

/** Validates one limit now, so a bad option fails when the class is defined, not on a request. */
function declared(limit: RateLimitOptions): DeclaredRateLimit {
  if (limit === null || typeof limit !== 'object') {
    throw new FlowgateConfigError('@RateLimit', limit, 'each limit must be an object such as { rate: 10, interval: "1s" }');
  }
  rejectUnknownOptions(limit, KNOWN);
  const name = limit.name ?? DEFAULT_LIMIT_NAME;
  // The rate may come from an outer limit of the same name; validate the rest with a stand-in.
  resolveLimiterOptions({ rate: limit.rate ?? 1, interval: limit.interval, burst: limit.burst, queue: limit.queue, strict: limit.strict, name });
  if (limit.cost !== undefined && typeof limit.cost !== 'function') requireNumber('cost', limit.cost, { min: 0, minInclusive: true });
  if (limit.key !== undefined && typeof limit.key !== 'function') throw new FlowgateConfigError('key', limit.key, 'must be a function');
  if (limit.priority !== undefined && typeof limit.priority !== 'function' && (typeof limit.priority !== 'number' || !Number.isFinite(limit.priority))) {
    throw new FlowgateConfigError('priority', limit.priority, 'must be a finite number or a function of the execution context');
  }
  if (limit.concurrency !== undefined) requireNumber('concurrency', limit.concurrency, { integer: true, min: 1, minInclusive: true });
  for (const option of ['skipSuccessfulRequests', 'skipFailedRequests'] as const) {
    if (limit[option] !== undefined && typeof limit[option] !== 'boolean') throw new FlowgateConfigError(option, limit[option], 'must be true or false');
  }
  if (limit.requestWasSuccessful !== undefined && typeof limit.requestWasSuccessful !== 'function') {
    throw new FlowgateConfigError('requestWasSuccessful', limit.requestWasSuccessful, 'must be a function of (execution context, response) returning a boolean');
  }
  return { ...limit, name };
}

/**
 * Declares one or more rate limits (and concurrency limits, with `concurrency`) on a controller class
 * (shared by all its routes) or on a route handler. The handler's limits win over the class's, and the class's over the module's, name by
 * name (see {@link RateLimitOptions}). The limits of a route are taken all-or-nothing: when one
 * rejects, the others give their tokens back. Stacked `@RateLimit` decorators add up; a name may
 * appear once per class or handler. Bad options throw when the class is defined. A limit that
 * gives no `rate` takes it from the module's or the class's limit of its name: when there is
 * none, the app's bootstrap fails with a `FlowgateConfigError` naming the limit and the handler
 * (for a controller; on a class that is no controller, such as a gateway, the first guarded call).
 *
 * @example
 * @RateLimit({ name: 'burst', rate: 5, interval: '1s' }, { name: 'daily', rate: 1000, interval: '24h' })
 * @Post('login')
 * login() {}
 */
export function RateLimit(...limits: RateLimitOptions[]): ClassDecorator & MethodDecorator {
  if (limits.length === 0) throw new FlowgateConfigError('@RateLimit', undefined, 'needs at least one limit, such as { rate: 10 }');
  const given = limits.map(declared);
  return (target: object, _property?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const where: object = descriptor?.value ?? target;
    const existing = (Reflect.getOwnMetadata(RATE_LIMIT_METADATA, where) as DeclaredRateLimit[] | undefined) ?? [];
    const all = [...given, ...existing];
    const names = all.map((limit) => limit.name);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) {
      throw new FlowgateConfigError('name', twice, 'is declared twice on the same class or handler; give each limit its own name');
    }
    Reflect.defineMetadata(RATE_LIMIT_METADATA, all, where);
  };
}
