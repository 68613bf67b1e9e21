// skipSuccessfulRequests / skipFailedRequests in Nest: a login limit that counts only failed logins (handler and inherited), two limits of one route counted apart, and the options that fail the bootstrap.

import { Controller, Get, Module, Req, UnauthorizedException, type INestApplication, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { FlowgateConfigError } from '../../src/errors.js';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule, RateLimit, type FlowgateModuleOptions } from '../../adapters/nestjs/index.js';
import { get } from '../adapters/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { closeNestApps, PLATFORMS, startNest, type Platform } from './nest-harness.js';

type Headers = { headers: Record<string, string | undefined> };

/** Answers 200 when the `x-password` header is right, 401 otherwise. */
function login(request: Headers): string {
  if (request.headers['x-password'] !== 'secret') throw new UnauthorizedException();
  return 'welcome';
}

/** Only failed logins count: 3 per hour. */
@Controller('auth')
class AuthController {
  @Get('login')
  @RateLimit({ name: 'login', rate: 3, interval: '1h', skipSuccessfulRequests: true })
  login(@Req() request: Headers): string {
    return login(request);
  }
}

/** The class's limit counts failures only; the handler's limit of the same name (its own cost) inherits that. */
@Controller('sso')
@RateLimit({ name: 'sso', rate: 4, interval: '1h', skipSuccessfulRequests: true })
class SsoController {
  @Get('login')
  @RateLimit({ name: 'sso', cost: 2 })
  login(@Req() request: Headers): string {
    return login(request);
  }
}

/**
 * Two limits on one route: 'attempts' counts every request, 'failures' only the failed ones
 * (a limit of its own under the module's, so the default limit does not apply).
 */
@Controller('both')
class BothController {
  @Get()
  @RateLimit({ name: 'attempts', rate: 5, interval: '1h' }, { name: 'failures', rate: 2, interval: '1h', skipSuccessfulRequests: true })
  attempt(@Req() request: Headers): string {
    return login(request);
  }
}

/** The class's limit counts failures only, by its own rule; the handler's limit of its name turns that off: every request counts. */
@Controller('audit')
@RateLimit({ name: 'audit', rate: 2, interval: '1h', skipSuccessfulRequests: true, requestWasSuccessful: (_context, res) => res.statusCode === 200 })
class AuditController {
  @Get()
  @RateLimit({ name: 'audit', skipSuccessfulRequests: false })
  audit(): string {
    return 'ok';
  }
}

function rootModule(options: FlowgateModuleOptions, controllers: Type<unknown>[]): Type<unknown> {
  @Module({ imports: [FlowgateModule.forRoot(options)], controllers, providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class RootModule {}
  return RootModule;
}

afterEach(async () => {
  await closeNestApps();
});

const GOOD = { 'x-password': 'secret' };
const BAD = { 'x-password': 'guess' };

/** Waits until the loopback client's bucket of the limiter named `name` holds `remaining` tokens (a token comes back as its response closes, which the client may outrun). */
async function tokensBackTo(app: INestApplication, name: string, remaining: number): Promise<void> {
  await waitFor(
    async () => {
      const limiter = app.get(FlowgateLimiters).limiters().find((l) => l.name === name);
      return limiter !== undefined && (await limiter.peek('127.0.0.1')).remaining === remaining;
    },
    5_000,
    `${name} back to ${remaining} tokens`,
  );
}

describe.each(PLATFORMS)('only the failed logins count, on %s', (platform: Platform) => {
  test('@RateLimit({ skipSuccessfulRequests }) on the handler: successes give their token back, the fourth failure is refused', async () => {
    const { app, url } = await startNest(rootModule({}, [AuthController]), platform);
    // Five successes on a burst of 3: each given back.
    for (let i = 0; i < 5; i++) {
      expect((await get(url('/auth/login'), GOOD)).status).toBe(200);
      await tokensBackTo(app, 'AuthController.login:login', 3);
    }
    for (let i = 0; i < 3; i++) expect((await get(url('/auth/login'), BAD)).status).toBe(401);
    await tokensBackTo(app, 'AuthController.login:login', 0);
    const refused = await get(url('/auth/login'), GOOD);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
  });

  test("an inner limit of the class's name (its own cost) inherits skipSuccessfulRequests", async () => {
    const { app, url } = await startNest(rootModule({}, [SsoController]), platform);
    // Cost 2 on a burst of 4: two failures spend it; any number of successes do not.
    for (let i = 0; i < 4; i++) {
      expect((await get(url('/sso/login'), GOOD)).status).toBe(200);
      await tokensBackTo(app, 'SsoController:sso', 4);
    }
    expect((await get(url('/sso/login'), BAD)).status).toBe(401);
    expect((await get(url('/sso/login'), BAD)).status).toBe(401);
    await tokensBackTo(app, 'SsoController:sso', 0);
    expect((await get(url('/sso/login'), GOOD)).status).toBe(429);
  });

  test("an inner limit that turns the outer limit's rule off counts every request (the outer requestWasSuccessful is not kept without a flag)", async () => {
    const { url } = await startNest(rootModule({}, [AuditController]), platform);
    expect((await get(url('/audit'))).status).toBe(200);
    expect((await get(url('/audit'))).status).toBe(200);
    expect((await get(url('/audit'))).status).toBe(429);
  });

  test('two limits of one route: each gives its tokens back by its own rule', async () => {
    const { app, url } = await startNest(rootModule({}, [BothController]), platform);
    // Successes spend 'attempts' (5) only: four of them leave one attempt.
    for (let i = 0; i < 4; i++) {
      expect((await get(url('/both'), GOOD)).status).toBe(200);
      await tokensBackTo(app, 'BothController.attempt:failures', 2);
    }
    expect((await get(url('/both'), BAD)).status).toBe(401);
    // 'attempts' is spent (5 of 5), 'failures' holds 1 of 2: the next is refused by 'attempts'.
    const refused = await get(url('/both'), GOOD);
    expect(refused.status).toBe(429);
    expect(refused.headers.ratelimit).toContain('"attempts";r=0');
  });
});

/** A route with a limit of its own name under a module default limit that counts only failures. */
@Controller('exports')
class ExportsController {
  @Get()
  @RateLimit({ name: 'exports', rate: 2, interval: '1h' })
  exportAll(): string {
    return 'ok';
  }
}

test("the module's skipSuccessfulRequests is its default limit's: a @RateLimit of another name still counts successes", async () => {
  const { app, url } = await startNest(rootModule({ rate: 3, interval: '1h', skipSuccessfulRequests: true }, [ExportsController]), 'express');
  const byName = (name: string) => app.get(FlowgateLimiters).limiters().find((limiter) => limiter.name.endsWith(name));
  expect((await get(url('/exports'))).status).toBe(200);
  expect((await get(url('/exports'))).status).toBe(200);
  await waitFor(async () => (await byName('default')?.peek('127.0.0.1'))?.remaining === 3, 5_000, "the default limit's tokens given back");
  expect((await byName(':exports')?.peek('127.0.0.1'))?.remaining).toBe(0);
  expect((await get(url('/exports'))).status).toBe(429);
});

describe('options that would be ignored fail the bootstrap', () => {
  async function boot(options: FlowgateModuleOptions, controllers: Type<unknown>[]): Promise<void> {
    const moduleRef = await Test.createTestingModule({ imports: [rootModule(options, controllers)] }).compile();
    try {
      await moduleRef.init();
    } finally {
      await moduleRef.close();
    }
  }

  test('on a concurrency-only @RateLimit, and on module options without a default limit', async () => {
    @Controller('uploads')
    class UploadsController {
      @Get()
      @RateLimit({ name: 'uploads', concurrency: 2, skipFailedRequests: true })
      upload(): string {
        return 'ok';
      }
    }
    await expect(boot({}, [UploadsController])).rejects.toThrow(FlowgateConfigError);
    await expect(boot({}, [UploadsController])).rejects.toThrow("invalid option skipFailedRequests=true: has no effect on @RateLimit 'uploads' on UploadsController.upload: it limits concurrency only");
    await expect(boot({ skipSuccessfulRequests: true }, [])).rejects.toThrow(/skipSuccessfulRequests.*describes the default limit, which needs a rate/);
    await expect(boot({ concurrency: 2, skipSuccessfulRequests: true }, [])).rejects.toThrow(/skipSuccessfulRequests.*only `concurrency` is given/);
  });

  test('both rules on one limit, inherited or not, fail it; a bad value fails the decorator at once', async () => {
    @Controller('mixed')
    @RateLimit({ name: 'mixed', rate: 2, skipSuccessfulRequests: true })
    class MixedController {
      @Get()
      @RateLimit({ name: 'mixed', skipFailedRequests: true })
      mixed(): string {
        return 'ok';
      }
    }
    await expect(boot({}, [MixedController])).rejects.toThrow(
      "invalid option skipFailedRequests=true: with skipSuccessfulRequests (set on @RateLimit 'mixed' on MixedController.mixed or inherited from the outer limit of that name): no request would count",
    );
    // The module's default limit is the outer limit of its name.
    @Controller('inner')
    class InnerController {
      @Get()
      @RateLimit({ skipFailedRequests: true })
      inner(): string {
        return 'ok';
      }
    }
    await expect(boot({ rate: 5, skipSuccessfulRequests: true }, [InnerController])).rejects.toThrow("on @RateLimit 'default' on InnerController.inner");
    await expect(boot({ rate: 5, skipSuccessfulRequests: true }, [AuthController])).resolves.toBeUndefined();
    // A rule of its own without a flag (its own or inherited) would be ignored.
    @Controller('rule')
    class RuleController {
      @Get()
      @RateLimit({ rate: 2, requestWasSuccessful: () => true })
      rule(): string {
        return 'ok';
      }
    }
    await expect(boot({}, [RuleController])).rejects.toThrow("has no effect on @RateLimit 'default' on RuleController.rule without skipSuccessfulRequests or skipFailedRequests");
    await expect(boot({ rate: 5, skipFailedRequests: true }, [RuleController])).resolves.toBeUndefined();
    expect(() => RateLimit({ rate: 1, skipSuccessfulRequests: 'yes' as unknown as boolean })).toThrow(/skipSuccessfulRequests="yes".*must be true or false/);
    expect(() => RateLimit({ rate: 1, requestWasSuccessful: 200 as unknown as () => boolean })).toThrow(/requestWasSuccessful=200.*must be a function/);
  });
});
