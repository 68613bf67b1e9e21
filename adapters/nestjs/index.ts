// flowgate/nestjs: a module, a guard and decorators that rate-limit and queue NestJS routes.

export { FlowgateModule } from './flowgate.module.js';
export { FlowgateGuard } from './flowgate.guard.js';
export { RateLimit } from './rate-limit.decorator.js';
export { SkipRateLimit } from './skip-rate-limit.decorator.js';
export { FlowgateRejectedException } from './flowgate-rejected.exception.js';
export { FlowgateExceptionFilter, type FlowgateRpcError } from './flowgate-exception.filter.js';
export { FlowgateLimiters } from './flowgate-limiters.service.js';
export { FLOWGATE_OPTIONS, RATE_LIMIT_METADATA, SKIP_RATE_LIMIT_METADATA, DEFAULT_LIMIT_NAME } from './flowgate.constants.js';
export type { FlowgateModuleOptions, FlowgateModuleAsyncOptions, FlowgateOptionsFactory, RateLimitOptions } from './flowgate-options.interface.js';
export type { RouteLimit, RouteConcurrency, LimitShape } from './route-limit.interface.js';
export { requestIpKey } from './request-ip-key.js';
export { ipKey } from '../../src/http/ip-key.js';
export type { Decision } from '../../src/decision.js';
