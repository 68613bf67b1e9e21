// The RateLimit, RateLimit-Policy and Retry-After values of decisions with extreme figures: always integers a Structured Field can carry.

import { createLimiter } from '../../src/limiter.js';
import { MAX_HEADER_SECONDS, rateLimitHeaders, retryAfterSeconds } from '../../src/http/rate-limit-headers.js';

describe('header values of a very slow refill', () => {
  test.each([1e-20, 1e-300])('rate %p per second: every seconds figure is an integer of at most 15 digits', async (rate) => {
    let now = 1_000_000;
    const limiter = createLimiter({ rate, clock: { now: () => now } });
    expect((await limiter.take('k')).allowed).toBe(true);
    now += 1000;
    const rejected = await limiter.take('k');
    expect(rejected).toMatchObject({ allowed: false, reason: 'limited' });
    // Before: 'w=100000000000000020000' (21 digits) and 'w=1e+300', 't=9.999999999999999e+299', 'Retry-After: 1e+300'.
    expect(retryAfterSeconds(rejected)).toBe(MAX_HEADER_SECONDS);
    expect(rateLimitHeaders(rejected, 'draft-8')).toEqual({
      'RateLimit-Policy': `"default";q=1;w=${MAX_HEADER_SECONDS}`,
      RateLimit: `"default";r=0;t=${MAX_HEADER_SECONDS}`,
    });
    expect(rateLimitHeaders(rejected, 'draft-7')).toEqual({
      'RateLimit-Policy': `1;w=${MAX_HEADER_SECONDS}`,
      RateLimit: `limit=1, remaining=0, reset=${MAX_HEADER_SECONDS}`,
    });
    await limiter.close();
  });
});
