// flowgate/express: rate limiting and overflow queuing as Express middleware.

export { rateLimit, type ExpressRateLimitOptions, type ExpressRateLimitMiddleware } from './rate-limit.js';
export { ipKey } from '../../src/http/ip-key.js';
export type { Decision } from '../../src/decision.js';
