// Injection tokens and metadata keys of flowgate/nestjs.

/** Injection token of the {@link FlowgateModuleOptions} given to `FlowgateModule.forRoot` or `forRootAsync`. */
export const FLOWGATE_OPTIONS = 'FLOWGATE_OPTIONS';

/** Metadata key under which `@RateLimit()` stores its limits on a class or handler. */
export const RATE_LIMIT_METADATA = 'flowgate:rate-limit';

/** Metadata key under which `@SkipRateLimit()` stores what it skips on a class or handler. */
export const SKIP_RATE_LIMIT_METADATA = 'flowgate:skip-rate-limit';

/** The name of a limit that is given none: the module's default limit, and any unnamed `@RateLimit`. */
export const DEFAULT_LIMIT_NAME = 'default';
