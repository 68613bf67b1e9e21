// @SkipRateLimit(): exempts a controller class or a route handler from all, or some named, limits.

import { SetMetadata } from '@nestjs/common';
import { FlowgateConfigError } from '../../src/errors.js';
import { SKIP_RATE_LIMIT_METADATA } from './flowgate.constants.js';

/** What `@SkipRateLimit()` skips: every limit (`true`), or the limits of these names. */
export type SkippedLimits = true | readonly string[];

/**
 * Exempts a route handler, or every route of a controller class, from rate limiting: from all
 * limits when called without names, or from the named limits only. On a class it skips the limits
 * of the module and of the class (a handler's own `@RateLimit` still applies); on a handler it skips
 * every limit of that route.
 *
 * @example
 * @SkipRateLimit()            // no limit at all
 * @SkipRateLimit('daily')     // every limit but 'daily'
 */
export function SkipRateLimit(...names: string[]): ClassDecorator & MethodDecorator {
  for (const name of names) {
    if (typeof name !== 'string') throw new FlowgateConfigError('@SkipRateLimit', name, 'takes limit names (strings)');
  }
  const skipped: SkippedLimits = names.length === 0 ? true : Object.freeze([...names]);
  return SetMetadata(SKIP_RATE_LIMIT_METADATA, skipped);
}
