// @SkipRateLimit(): exempts a controller class or a route handler from all, or some named, limits.

import { FlowgateConfigError } from '../../src/errors.js';
import { SKIP_RATE_LIMIT_METADATA } from './flowgate.constants.js';

/** What `@SkipRateLimit()` skips: every limit (`true`), or the limits of these names. */
export type SkippedLimits = true | readonly string[];

/**
 * Exempts a route handler, or every route of a controller class, from rate limiting: from all
 * limits when called without names, or from the named limits only. On a class it skips the limits
 * of the module and of the class (a handler's own `@RateLimit` still applies); on a handler it skips
 * every limit of that route. Stacked `@SkipRateLimit` decorators on one class or handler add up:
 * the names of all of them are skipped, and one without names skips everything.
 *
 * @example
 * @SkipRateLimit()            // no limit at all
 * @SkipRateLimit('daily')     // every limit but 'daily'
 */
export function SkipRateLimit(...names: string[]): ClassDecorator & MethodDecorator {
  for (const name of names) {
    if (typeof name !== 'string') throw new FlowgateConfigError('@SkipRateLimit', name, 'takes limit names (strings)');
  }
  const skipped: SkippedLimits = names.length === 0 ? true : Object.freeze([...new Set(names)]);
  return (target: object, _property?: string | symbol, descriptor?: PropertyDescriptor): void => {
    // Where Nest's SetMetadata puts it: on the handler function, or on the class.
    const where: object = descriptor?.value ?? target;
    const existing = Reflect.getOwnMetadata(SKIP_RATE_LIMIT_METADATA, where) as SkippedLimits | undefined;
    const merged: SkippedLimits =
      existing === undefined ? skipped : existing === true || skipped === true ? true : Object.freeze([...new Set([...existing, ...skipped])]);
    Reflect.defineMetadata(SKIP_RATE_LIMIT_METADATA, merged, where);
  };
}
