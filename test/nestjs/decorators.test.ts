// @RateLimit and @SkipRateLimit: precedence (handler over class over module), named limits taken
// all-or-nothing, skips, limiter reuse, and validation when the class is defined.

import { Controller, Get, Module, Req, UseGuards, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FlowgateGuard, FlowgateModule, RateLimit, SkipRateLimit, type FlowgateModuleOptions } from '../../adapters/nestjs/index.js';
import { SKIP_RATE_LIMIT_METADATA } from '../../adapters/nestjs/flowgate.constants.js';
import type { Decision } from '../../src/decision.js';
import { FlowgateConfigError } from '../../src/errors.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { BucketPolicy } from '../../src/policy.js';
import { get } from '../adapters/http-client.js';
import { closeNestApps, PLATFORMS, startNest, type Platform } from './nest-harness.js';

/** The `x-user` header of the request, as a key. */
function userKey(context: ExecutionContext): string {
  const { headers } = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
  return `user:${headers['x-user'] ?? 'anonymous'}`;
}

/** What a route answers: the names of the limits it passed, and the tightest one. */
interface Passed {
  readonly limits: string[];
  readonly tightest: string | null;
}

function passed(request: { rateLimit?: Decision; rateLimits?: Record<string, Decision> }): Passed {
  const entries = Object.entries(request.rateLimits ?? {});
  return { limits: entries.map(([name]) => name), tightest: entries.find(([, decision]) => decision === request.rateLimit)?.[0] ?? null };
}

@Controller('plain')
class PlainController {
  @Get()
  plain(): string {
    return 'ok';
  }
}

@Controller('cats')
@RateLimit({ rate: 1, interval: '10s', burst: 2 })
class CatsController {
  @Get()
  list(): string {
    return 'list';
  }

  @Get('other')
  other(): string {
    return 'other';
  }

  @Get('own')
  @RateLimit({ burst: 3 })
  own(): string {
    return 'own';
  }

  @Get('costly')
  @RateLimit({ cost: 2 })
  costly(): string {
    return 'costly';
  }
}

@Controller('login')
class LoginController {
  @Get()
  @RateLimit({ name: 'per-ip', rate: 1, interval: '10s', burst: 3 }, { name: 'per-user', rate: 1, interval: '10s', burst: 1, key: userKey })
  login(@Req() request: object): Passed {
    return passed(request);
  }
}

@Controller('skip')
class SkipController {
  @Get('all')
  @SkipRateLimit()
  @RateLimit({ name: 'extra', rate: 1, interval: '10s', burst: 1 })
  all(@Req() request: object): Passed {
    return passed(request);
  }

  @Get('named')
  @SkipRateLimit('default')
  @RateLimit({ name: 'extra', rate: 1, interval: '10s', burst: 1 })
  named(@Req() request: object): Passed {
    return passed(request);
  }
}

@Controller('quiet')
@SkipRateLimit()
class QuietController {
  @Get()
  quiet(@Req() request: object): Passed {
    return passed(request);
  }

  @Get('own')
  @RateLimit({ name: 'own', rate: 1, interval: '10s', burst: 1 })
  own(@Req() request: object): Passed {
    return passed(request);
  }
}

/** The module default: 5 per 50 s (q=5, w=50), app-wide. */
const MODULE_LIMIT: FlowgateModuleOptions = { rate: 1, interval: '10s', burst: 5 };

function rootModule(options: FlowgateModuleOptions): new () => unknown {
  @Module({
    imports: [FlowgateModule.forRoot(options)],
    controllers: [PlainController, CatsController, LoginController, SkipController, QuietController],
    providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
  })
  class RootModule {}
  return RootModule;
}

afterEach(closeNestApps);

describe.each(PLATFORMS)('decorators on %s', (platform: Platform) => {
  async function start(options: FlowgateModuleOptions = MODULE_LIMIT): Promise<(path: string, headers?: Record<string, string>) => ReturnType<typeof get>> {
    const { url } = await startNest(rootModule(options), platform);
    return (path, headers) => get(url(path), headers);
  }

  test('a route without @RateLimit gets the module default limit', async () => {
    const request = await start();
    expect((await request('/plain')).headers['ratelimit-policy']).toBe('"default";q=5;w=50');
  });

  test("a class's limit replaces the module's limit of the same name, and all its routes share it", async () => {
    const request = await start();
    const first = await request('/cats');
    expect(first.headers['ratelimit-policy']).toBe('"default";q=2;w=20');
    expect((await request('/cats/other')).status).toBe(200);
    expect((await request('/cats')).status).toBe(429);
    expect((await request('/cats/other')).status).toBe(429);
    // The module's own bucket was not touched.
    expect((await request('/plain')).headers.ratelimit).toMatch(/^"default";r=4;/);
  });

  test("a handler's limit wins over its class's: fields it sets make a limit of its own, the rest are inherited", async () => {
    const request = await start();
    const own = await request('/cats/own');
    expect(own.headers['ratelimit-policy']).toBe('"default";q=3;w=30');
    expect(own.headers.ratelimit).toMatch(/^"default";r=2;/);
    expect((await request('/cats')).headers.ratelimit).toMatch(/^"default";r=1;/);
  });

  test("a handler's cost alone spends from its class's buckets", async () => {
    const request = await start();
    const costly = await request('/cats/costly');
    expect(costly.status).toBe(200);
    expect(costly.headers.ratelimit).toMatch(/^"default";r=0;/);
    expect((await request('/cats')).status).toBe(429);
  });

  test('named limits are taken all-or-nothing: a rejection gives back what the other limits took', async () => {
    const request = await start();
    const first = await request('/login', { 'x-user': 'alice' });
    expect(first.status).toBe(200);
    expect(first.json()).toEqual({ limits: ['default', 'per-ip', 'per-user'], tightest: 'per-user' });
    expect(first.headers['ratelimit-policy']).toBe('"default";q=5;w=50, "per-ip";q=3;w=30, "per-user";q=1;w=10');
    expect(first.headers.ratelimit).toMatch(/^"default";r=4;t=\d+, "per-ip";r=2;t=\d+, "per-user";r=0;t=\d+$/);

    const rejected = await request('/login', { 'x-user': 'alice' });
    expect(rejected.status).toBe(429);
    expect(rejected.json()).toMatchObject({ 'violated-policies': ['per-user'] });
    expect(rejected.headers['ratelimit-policy']).toBe('"per-user";q=1;w=10');

    // Had the rejection kept their tokens, 'default' would be at 2 and 'per-ip' at 0.
    const other = await request('/login', { 'x-user': 'bob' });
    expect(other.status).toBe(200);
    expect(other.headers.ratelimit).toMatch(/^"default";r=3;t=\d+, "per-ip";r=1;t=\d+, "per-user";r=0;t=\d+$/);
  });

  test('@SkipRateLimit() on a handler skips every limit of the route', async () => {
    const request = await start();
    for (let i = 0; i < 3; i++) {
      const answer = await request('/skip/all');
      expect(answer.status).toBe(200);
      expect(answer.headers.ratelimit).toBeUndefined();
      expect(answer.json()).toEqual({ limits: [], tightest: null });
    }
  });

  test('@SkipRateLimit(name) skips the named limits only', async () => {
    const request = await start();
    const answer = await request('/skip/named');
    expect(answer.json()).toEqual({ limits: ['extra'], tightest: 'extra' });
    expect(answer.headers['ratelimit-policy']).toBe('"extra";q=1;w=10');
    expect((await request('/skip/named')).status).toBe(429);
  });

  test("the module's dryRun reaches every @RateLimit limit: over their limits, requests are served", async () => {
    for (const options of [{ ...MODULE_LIMIT, dryRun: true }, { dryRun: true }]) {
      const request = await start(options);
      // The class limit holds 2 tokens; the per-user login limit 1.
      const cats = await Promise.all([1, 2, 3].map(() => request('/cats')));
      expect(cats.map((a) => a.status)).toEqual([200, 200, 200]);
      expect(cats.every((a) => a.headers['retry-after'] === undefined)).toBe(true);
      const logins = [await request('/login', { 'x-user': 'alice' }), await request('/login', { 'x-user': 'alice' })];
      expect(logins.map((a) => a.status)).toEqual([200, 200]);
      await closeNestApps();
    }
  });

  test("@SkipRateLimit() on a class skips the module's limits, not a handler's own", async () => {
    const request = await start();
    expect((await request('/quiet')).json()).toEqual({ limits: [], tightest: null });
    expect((await request('/quiet/own')).json()).toEqual({ limits: ['own'], tightest: 'own' });
    expect((await request('/quiet/own')).status).toBe(429);
  });

  test('a declared limit is made once per class or handler and name, in a stable bucket namespace', async () => {
    const store = new MemoryStore();
    const policies = new Set<BucketPolicy>();
    // Both ways in: the guard's synchronous fast path (takeSync) and the general one (take).
    const take = store.take.bind(store);
    const takeSync = store.takeSync.bind(store);
    jest.spyOn(store, 'take').mockImplementation((policy, key, cost) => {
      policies.add(policy);
      return take(policy, key, cost);
    });
    jest.spyOn(store, 'takeSync').mockImplementation((policy, key, cost) => {
      policies.add(policy);
      return takeSync(policy, key, cost);
    });
    const request = await start({ ...MODULE_LIMIT, burst: 50, store });
    for (let i = 0; i < 3; i++) {
      await request('/cats/other');
      await request('/cats');
      await request('/cats/own');
      await request('/plain');
    }
    expect([...policies].map((p) => p.name).sort()).toEqual(['CatsController.own:default', 'CatsController:default', 'default']);
  });
});

describe('@UseGuards(FlowgateGuard)', () => {
  @Controller('guarded')
  @UseGuards(FlowgateGuard)
  class GuardedController {
    @Get()
    guarded(): string {
      return 'guarded';
    }
  }

  @Module({ imports: [FlowgateModule.forRoot({ rate: 1, interval: '10s', burst: 1 })], controllers: [GuardedController, PlainController] })
  class RootModule {}

  test.each(PLATFORMS)('limits the controllers it guards, on %s', async (platform) => {
    const { url } = await startNest(RootModule, platform);
    expect((await get(url('/guarded'))).status).toBe(200);
    expect((await get(url('/guarded'))).status).toBe(429);
    expect((await get(url('/plain'))).status).toBe(200);
    expect((await get(url('/plain'))).headers.ratelimit).toBeUndefined();
  });
});

describe('@RateLimit validation', () => {
  test.each<[string, () => unknown]>([
    ['no limit', () => RateLimit()],
    ['a bad rate', () => RateLimit({ rate: 0 })],
    ['a bad burst', () => RateLimit({ rate: 1, burst: 1.5 })],
    ['a bad interval', () => RateLimit({ rate: 1, interval: 'soon' })],
    ['an unknown option', () => RateLimit({ rate: 1, windowMs: 1000 } as never)],
    ['a negative cost', () => RateLimit({ cost: -1 })],
    ['a key that is not a function', () => RateLimit({ key: 'ip' } as never)],
    ['the same name twice', () => RateLimit({ rate: 1 }, { rate: 2 })],
  ])('throws FlowgateConfigError for %s', (_name, declare) => {
    expect(() => {
      const decorator = declare() as MethodDecorator;
      class Target {
        handler(): void {}
      }
      decorator(Target.prototype, 'handler', Object.getOwnPropertyDescriptor(Target.prototype, 'handler') as PropertyDescriptor);
    }).toThrow(FlowgateConfigError);
  });

  test('stacked decorators add up, and a name may not repeat', () => {
    expect(() => {
      class Target {
        @RateLimit({ name: 'a', rate: 1 })
        @RateLimit({ name: 'b', rate: 1 })
        handler(): void {}
      }
      return Target;
    }).not.toThrow();
    expect(() => {
      class Target {
        @RateLimit({ name: 'a', rate: 1 })
        @RateLimit({ name: 'a', rate: 2 })
        handler(): void {}
      }
      return Target;
    }).toThrow(/declared twice/);
  });
});

describe("an inner limit's burst", () => {
  @Controller('hourly')
  class HourlyController {
    @RateLimit({ rate: 1, interval: '1h' })
    @Get()
    hourly(): string {
      return 'ok';
    }

    @RateLimit({ interval: '1h' })
    @Get('slower')
    slower(): string {
      return 'ok';
    }
  }

  test.each<[string, FlowgateModuleOptions]>([
    ['left to its default', { rate: 5, interval: '1m' }],
    ['spelled out', { rate: 5, interval: '1m', burst: 5 }],
  ])("follows its own rate whether the module's burst is %s; with no rate of its own, the module's", async (_how, options) => {
    @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [HourlyController], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
    class HourlyModule {}
    const { url } = await startNest(HourlyModule, 'express');
    // 1 an hour, burst ceil(1): what a @nestjs/throttler user porting { limit: 1, ttl: 1h } expects.
    expect((await get(url('/hourly'))).headers['ratelimit-policy']).toBe('"default";q=1;w=3600');
    expect((await get(url('/hourly'))).status).toBe(429);
    // Rate and burst from the module (5, burst 5), over its own interval.
    expect((await get(url('/hourly/slower'))).headers['ratelimit-policy']).toBe('"default";q=5;w=3600');
  });
});

describe('stacked @SkipRateLimit', () => {
  /** The module limit 'app', the class limit 'cls' and the handler limit 'own', skipped in stacks of decorators. */
  @Controller('stacked')
  @RateLimit({ name: 'cls', rate: 1, interval: '10s', burst: 5 })
  class StackedController {
    @Get('two')
    @SkipRateLimit('app')
    @SkipRateLimit('cls')
    two(@Req() request: object): Passed {
      return passed(request);
    }

    @Get('all')
    @SkipRateLimit('app')
    @SkipRateLimit()
    @SkipRateLimit('cls')
    all(@Req() request: object): Passed {
      return passed(request);
    }

    @Get('overlap')
    @SkipRateLimit('app', 'cls')
    @SkipRateLimit('cls')
    @RateLimit({ name: 'own', rate: 1, interval: '10s', burst: 5 })
    overlap(@Req() request: object): Passed {
      return passed(request);
    }
  }

  @Module({
    imports: [FlowgateModule.forRoot({ name: 'app', rate: 1, interval: '10s', burst: 5 })],
    controllers: [StackedController],
    providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
  })
  class StackedModule {}

  test.each(PLATFORMS)('stacked decorators add up (all of them wins over names), on %s', async (platform) => {
    const { url } = await startNest(StackedModule, platform);
    const two = await get(url('/stacked/two'));
    expect(two.status).toBe(200);
    expect(two.json()).toEqual({ limits: [], tightest: null });
    expect(two.headers.ratelimit).toBeUndefined();
    const all = await get(url('/stacked/all'));
    expect(all.json()).toEqual({ limits: [], tightest: null });
    expect(all.headers.ratelimit).toBeUndefined();
    const overlap = await get(url('/stacked/overlap'));
    expect(overlap.json()).toEqual({ limits: ['own'], tightest: 'own' });
    expect(overlap.headers['ratelimit-policy']).toBe('"own";q=5;w=50');
  });

  test('the metadata is the union of the names, or true', () => {
    const read = (method: keyof StackedController): unknown => Reflect.getMetadata(SKIP_RATE_LIMIT_METADATA, StackedController.prototype[method]);
    expect(read('two')).toEqual(expect.arrayContaining(['app', 'cls']));
    expect(read('two')).toHaveLength(2);
    expect(read('all')).toBe(true);
    expect(read('overlap')).toEqual(expect.arrayContaining(['app', 'cls']));
    expect(read('overlap')).toHaveLength(2);
  });
});
