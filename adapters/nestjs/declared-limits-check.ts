// Checks, when the app starts, that every @RateLimit on its controllers resolves: a rate of its own or an outer limit's, and one owner per bucket namespace.

import type { Type } from '@nestjs/common';
import { FlowgateConfigError } from '../../src/errors.js';
import type { DeclaredRateLimit } from './rate-limit.decorator.js';

/** Reads the limits declared on a controller class or a handler (metadata of `@RateLimit`). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type DeclaredLimitsReader = (target: Function) => readonly DeclaredRateLimit[] | undefined;

/** The error of a limit that gives no rate and has no outer limit of its name to take one from. */
export function missingRateError(name: string, label: string): FlowgateConfigError {
  return new FlowgateConfigError('rate', undefined, `is required by @RateLimit '${name}' on ${label}: no outer limit of that name gives one`);
}

/** The error of an option of a rate limit on a limit of concurrency only (it would be ignored). */
export function rateOptionWithoutRateError(option: string, value: unknown, name: string, label: string): FlowgateConfigError {
  return new FlowgateConfigError(option, value, `has no effect on @RateLimit '${name}' on ${label}: it limits concurrency only (no rate of its own or of an outer limit of that name); give it a rate, or leave ${option} out`);
}

/** The error of a bucket namespace claimed by two different classes or handlers of the same label. */
export function sharedLabelError(name: string, label: string): FlowgateConfigError {
  return new FlowgateConfigError('name', name, `is declared by two different classes or handlers named ${label}; rename one, or give its limit another name`);
}

/** The error of a limit that gives back the tokens of successful and of failed requests alike (its own rule, or inherited field by field). */
export function bothOutcomesSkippedError(name: string, label: string): FlowgateConfigError {
  return new FlowgateConfigError(
    'skipFailedRequests',
    true,
    `with skipSuccessfulRequests (set on @RateLimit '${name}' on ${label} or inherited from the outer limit of that name): no request would count; set one of them to false`,
  );
}

/** Which outcomes a limit gives tokens back for, as declared (undefined: inherited). */
export interface OutcomeRule {
  readonly skipSuccessfulRequests?: boolean;
  readonly skipFailedRequests?: boolean;
}

/** The error of a `requestWasSuccessful` on a limit that gives no tokens back (no flag of its own or inherited): it would be ignored. */
export function ruleWithoutFlagError(name: string, label: string, rule: unknown): FlowgateConfigError {
  return new FlowgateConfigError(
    'requestWasSuccessful',
    rule,
    `has no effect on @RateLimit '${name}' on ${label} without skipSuccessfulRequests or skipFailedRequests (its own or the outer limit's of that name)`,
  );
}

/** A limit's outcome flags: its own where it sets them, else the outer limit's of its name. */
export function inheritRule(declared: OutcomeRule, outer: OutcomeRule | undefined): OutcomeRule {
  return {
    skipSuccessfulRequests: declared.skipSuccessfulRequests ?? outer?.skipSuccessfulRequests,
    skipFailedRequests: declared.skipFailedRequests ?? outer?.skipFailedRequests,
  };
}

/** The options that only a rate limit uses: a limit that sets one of them means a rate limit. */
const RATE_ONLY_OPTIONS = ['rate', 'interval', 'burst', 'queue', 'strict', 'cost', 'priority', 'skipSuccessfulRequests', 'skipFailedRequests', 'requestWasSuccessful'] as const;

/**
 * Whether a declared limit is a concurrency limit only: it gives no rate and no outer rate limit of
 * its name exists, and either it gives `concurrency`, or it keeps the permits of the outer
 * concurrency limit of its name (with its own `key`) and sets no option of a rate limit.
 */
export function isConcurrencyOnly(declared: DeclaredRateLimit, outerHasRate: boolean, outerHasConcurrency: boolean): boolean {
  if (declared.rate !== undefined || outerHasRate) return false;
  if (declared.concurrency !== undefined) return true;
  return outerHasConcurrency && RATE_ONLY_OPTIONS.every((option) => declared[option] === undefined);
}

/** The route handlers of a controller class: its methods and those it inherits, most derived first. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
function handlersOf(controller: Type<unknown>): Function[] {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  const handlers = new Map<string, Function>();
  for (let proto: object | null = controller.prototype as object; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (name !== 'constructor' && typeof value === 'function' && !handlers.has(name)) handlers.set(name, value);
    }
  }
  return [...handlers.values()];
}

/**
 * Throws the {@link FlowgateConfigError} that the first request of a route would otherwise meet:
 * a `@RateLimit` with no `rate` of its own and no outer limit of its name (the module's default
 * limit, named `defaultName`, or the class's) to take one from, unless it is a concurrency limit
 * only (it gives `concurrency`, or keeps the permits of an outer concurrency limit of its name: the
 * module's, named `defaultConcurrencyName`, or the class's); or two different classes or handlers
 * of the same label declaring a limit of the same name. It resolves names the way `FlowgateGuard`
 * does, and makes no limiter.
 */
export function checkDeclaredLimits(
  controllers: Iterable<Type<unknown>>,
  defaultName: string | undefined,
  read: DeclaredLimitsReader,
  defaultConcurrencyName?: string,
  defaultRule: OutcomeRule = {},
): void {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  const owners = new Map<string, Function>();
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  const claim = (target: Function, label: string, declared: DeclaredRateLimit): void => {
    const namespace = `${label}:${declared.name}`;
    const owner = owners.get(namespace);
    if (owner !== undefined && owner !== target) throw sharedLabelError(declared.name, label);
    owners.set(namespace, target);
  };
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  /** The names of the outer rate limits and concurrency limits, and where to add the names `target` declares. */
  interface Names {
    readonly rates: Set<string>;
    readonly concurrency: Set<string>;
    /** The outcome rule of each rate limit, field by field as inherited. */
    readonly rules: Map<string, OutcomeRule>;
  }
  const resolve = (target: Function, label: string, outer: Names, into: Names): void => {
    for (const declared of read(target) ?? []) {
      claim(target, label, declared);
      const outerHasRate = outer.rates.has(declared.name);
      const outerHasConcurrency = outer.concurrency.has(declared.name);
      if (declared.concurrency !== undefined || outerHasConcurrency) into.concurrency.add(declared.name);
      if (isConcurrencyOnly(declared, outerHasRate, outerHasConcurrency)) {
        // Options of a rate limit on a concurrency limit alone would be ignored: say so.
        const ignored = RATE_ONLY_OPTIONS.find((option) => declared[option] !== undefined);
        if (ignored !== undefined) throw rateOptionWithoutRateError(ignored, declared[ignored], declared.name, label);
        continue;
      }
      if (declared.rate === undefined && !outerHasRate) throw missingRateError(declared.name, label);
      into.rates.add(declared.name);
      const rule = inheritRule(declared, outer.rules.get(declared.name));
      if (rule.skipSuccessfulRequests === true && rule.skipFailedRequests === true) throw bothOutcomesSkippedError(declared.name, label);
      if (declared.requestWasSuccessful !== undefined && rule.skipSuccessfulRequests !== true && rule.skipFailedRequests !== true) {
        throw ruleWithoutFlagError(declared.name, label, declared.requestWasSuccessful);
      }
      into.rules.set(declared.name, rule);
    }
  };
  for (const controller of new Set(controllers)) {
    const classNames: Names = {
      rates: new Set(defaultName === undefined ? [] : [defaultName]),
      concurrency: new Set(defaultConcurrencyName === undefined ? [] : [defaultConcurrencyName]),
      rules: new Map(defaultName === undefined ? [] : [[defaultName, defaultRule]]),
    };
    resolve(controller, controller.name, { rates: new Set(classNames.rates), concurrency: new Set(classNames.concurrency), rules: new Map(classNames.rules) }, classNames);
    for (const handler of handlersOf(controller)) {
      resolve(handler, `${controller.name}.${handler.name}`, classNames, { rates: new Set(), concurrency: new Set(), rules: new Map() });
    }
  }
}
