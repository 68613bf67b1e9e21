// The example's routes: one under the app-wide limit, one with limits of its own, one exempt.

import { Controller, Get, Post, Req } from '@nestjs/common';
import { RateLimit, SkipRateLimit, type Decision } from 'flowgate/nestjs';

/** What the guard leaves on an admitted request. */
interface RateLimitedRequest {
  rateLimit?: Decision;
  rateLimits?: Record<string, Decision>;
}

@Controller()
export class HelloController {
  /** Under the module's default limit: 5 per second, queueing up to 10 for 2 s. */
  @Get()
  hello(@Req() request: RateLimitedRequest): { hello: string; waitedMs: number } {
    return { hello: 'world', waitedMs: Math.round(request.rateLimit?.waitedMs ?? 0) };
  }

  /** Also 3 attempts per minute per client, taken all-or-nothing with the default limit. */
  @Post('login')
  @RateLimit({ name: 'login', rate: 3, interval: '1m' })
  login(@Req() request: RateLimitedRequest): { remaining: Record<string, number> } {
    const remaining = Object.fromEntries(Object.entries(request.rateLimits ?? {}).map(([name, d]) => [name, d.remaining]));
    return { remaining };
  }

  /** Never limited. */
  @Get('health')
  @SkipRateLimit()
  health(): { ok: true } {
    return { ok: true };
  }
}
