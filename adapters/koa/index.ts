// flowgate/koa: rate limiting and overflow queuing as Koa middleware.

export { rateLimit, type KoaRateLimitOptions, type KoaRateLimitMiddleware } from './rate-limit.js';
export { ipKey } from '../../src/http/ip-key.js';
export type { Decision } from '../../src/decision.js';
