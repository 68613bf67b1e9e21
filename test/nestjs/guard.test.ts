// FlowgateGuard: non-HTTP contexts, hooks for subclasses, the message and status options, and limits
// that cannot be resolved.

import { Controller, Get, HttpException, Injectable, Module, type ExecutionContext, type Type } from '@nestjs/common';
import { APP_GUARD, HttpAdapterHost, Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { Test } from '@nestjs/testing';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule, RateLimit, type FlowgateModuleOptions, type RouteLimit } from '../../adapters/nestjs/index.js';
import type { Decision } from '../../src/decision.js';
import { FlowgateConfigError } from '../../src/errors.js';
import { get } from '../adapters/http-client.js';
import { closeNestApps, PLATFORMS, startNest } from './nest-harness.js';

@Controller()
class PingController {
  @Get('ping')
  ping(): string {
    return 'pong';
  }
}

/** A limit with no rate and no outer limit of its name: cannot be resolved. */
@Controller()
class UnresolvableController {
  @RateLimit({ name: 'nameless' })
  @Get('unresolvable')
  unresolvable(): string {
    return 'never';
  }
}

/** A header of the HTTP request of `context`. */
function header(context: ExecutionContext, name: string): string | undefined {
  return context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers[name];
}

/** A guard limiting by tenant, with per-request costs, internal calls exempt and its own rejection. */
@Injectable()
class TenantGuard extends FlowgateGuard {
  protected override getKey(context: ExecutionContext): string {
    return `tenant:${header(context, 'x-tenant') ?? 'none'}`;
  }

  protected override getCost(context: ExecutionContext, limit: RouteLimit): number | Promise<number> {
    const cost = header(context, 'x-cost');
    return cost === undefined ? super.getCost(context, limit) : Number(cost);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return header(context, 'x-internal') === 'yes' || super.shouldSkip(context);
  }

  protected override async onRejected(_context: ExecutionContext, decision: Decision, limit: RouteLimit): Promise<never> {
    throw new HttpException({ limited: limit.name, reason: decision.reason }, 418);
  }
}

/** A guard that also limits RPC handlers, by the client named in the message. */
class RpcGuard extends FlowgateGuard {
  protected override shouldSkip(): boolean {
    return false;
  }

  protected override getKey(context: ExecutionContext, limit: RouteLimit): string | Promise<string> {
    if (context.getType() !== 'rpc') return super.getKey(context, limit);
    return `client:${context.switchToRpc().getData<{ client: string }>().client}`;
  }

  protected override async onRejected(context: ExecutionContext, decision: Decision): Promise<never> {
    throw new Error(`${context.getType()} call limited: ${decision.reason}`);
  }
}

function rootModule(options: FlowgateModuleOptions, guard: Type<FlowgateGuard> = FlowgateGuard): new () => unknown {
  @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [PingController], providers: [{ provide: APP_GUARD, useClass: guard }] })
  class RootModule {}
  return RootModule;
}

/** An execution context of another transport, for the `ping` handler. */
function contextOf(type: 'rpc' | 'ws', args: unknown[]): ExecutionContextHost {
  const host = new ExecutionContextHost(args, PingController, PingController.prototype.ping);
  host.setType(type);
  return host;
}

/** The guard and limiters of a compiled module (no HTTP server). */
async function compiled(options: FlowgateModuleOptions): Promise<{ limiters: FlowgateLimiters; guardOf(type: typeof FlowgateGuard): FlowgateGuard; close(): Promise<void> }> {
  const moduleRef = await Test.createTestingModule({ imports: [rootModule(options)] }).compile();
  const limiters = moduleRef.get(FlowgateLimiters);
  return {
    limiters,
    guardOf: (type) => new type(limiters, moduleRef.get(Reflector), moduleRef.get(HttpAdapterHost)),
    close: () => moduleRef.close(),
  };
}

afterEach(closeNestApps);

describe('non-HTTP contexts', () => {
  test.each([
    ['rpc', [{ pattern: 'sum' }, { getPattern: () => 'sum' }]],
    ['ws', [{ id: 'socket-1', emit: () => undefined }, { event: 'hello' }]],
  ] as const)('a %s context is skipped cleanly by the default guard', async (type, args) => {
    const { limiters, guardOf, close } = await compiled({ rate: 1, interval: '10s', burst: 1 });
    const takes = jest.fn();
    limiters.defaultLimit?.limiter.on('admit', takes).on('reject', takes);
    const guard = guardOf(FlowgateGuard);
    for (let i = 0; i < 3; i++) await expect(Promise.resolve(guard.canActivate(contextOf(type, [...args])))).resolves.toBe(true);
    expect(takes).not.toHaveBeenCalled();
    await close();
  });

  test('a subclass can limit RPC handlers through the hooks, without touching any response', async () => {
    const { guardOf, close } = await compiled({ rate: 1, interval: '10s', burst: 1 });
    const guard = guardOf(RpcGuard);
    const call = (client: string): Promise<boolean> => Promise.resolve(guard.canActivate(contextOf('rpc', [{ client }, {}])));
    await expect(call('a')).resolves.toBe(true);
    await expect(call('a')).rejects.toThrow('rpc call limited: limited');
    await expect(call('b')).resolves.toBe(true);
    await close();
  });

  test('a limit that gives no rate and overrides nothing, on a class that is no controller, is a FlowgateConfigError when first used', async () => {
    const { guardOf, close } = await compiled({});
    const host = new ExecutionContextHost([{ headers: {} }, {}], UnresolvableController, UnresolvableController.prototype.unresolvable);
    await expect(guardOf(FlowgateGuard).canActivate(host)).rejects.toThrow(FlowgateConfigError);
    await close();
  });
});

describe('limits of the controllers, checked at bootstrap', () => {
  /** Initialises a module of `controllers` under `FlowgateModule.forRoot(options)`: runs the startup checks, serves nothing. */
  async function boot(options: FlowgateModuleOptions, controllers: Type<unknown>[]): Promise<void> {
    @Module({ imports: [FlowgateModule.forRoot(options)], controllers, providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
    class BootModule {}
    const moduleRef = await Test.createTestingModule({ imports: [BootModule] }).compile();
    try {
      await moduleRef.init();
    } finally {
      await moduleRef.close();
    }
  }

  @RateLimit({ name: 'per-user', rate: 5 })
  @Controller('users')
  class UsersController {
    @RateLimit({ name: 'per-user', burst: 2 }, { name: 'default', cost: 2 })
    @Get()
    list(): string {
      return 'users';
    }

    @RateLimit({ name: 'uploads', concurrency: 2 })
    @Get('upload')
    upload(): string {
      return 'uploaded';
    }
  }

  @RateLimit({ name: 'per-user' })
  @Controller('orphans')
  class ClassWithoutRate {}

  /** Two different classes of one name, each declaring a limit of one name: they would share buckets. */
  function namesake(path: string): Type<unknown> {
    @RateLimit({ name: 'shared', rate: 1 })
    @Controller(path)
    class ReportsController {}
    return ReportsController;
  }

  test('a handler limit with no rate and no outer limit of its name fails the bootstrap, naming the limit and the handler', async () => {
    const booting = boot({ rate: 10 }, [PingController, UnresolvableController]);
    await expect(booting).rejects.toThrow(FlowgateConfigError);
    await expect(boot({ rate: 10 }, [UnresolvableController])).rejects.toThrow("@RateLimit 'nameless' on UnresolvableController.unresolvable");
  });

  test('a class limit with no rate fails the bootstrap unless the module has a default limit of its name', async () => {
    await expect(boot({ rate: 10 }, [ClassWithoutRate])).rejects.toThrow("@RateLimit 'per-user' on ClassWithoutRate");
    await expect(boot({ rate: 10, name: 'per-user' }, [ClassWithoutRate])).resolves.toBeUndefined();
  });

  test('limits that inherit a rate (from the class or the module) or only limit concurrency start', async () => {
    await expect(boot({ rate: 10 }, [UsersController, PingController])).resolves.toBeUndefined();
  });

  test('an option of a rate limit on a limit of concurrency only fails the bootstrap, naming it (it would be ignored)', async () => {
    @Controller('uploads')
    class UploadsController {
      @RateLimit({ name: 'uploads', concurrency: 2, interval: '1s' })
      @Get()
      upload(): string {
        return 'ok';
      }
    }
    await expect(boot({ rate: 10 }, [UploadsController])).rejects.toThrow(FlowgateConfigError);
    await expect(boot({ rate: 10 }, [UploadsController])).rejects.toThrow(`invalid option interval="1s": has no effect on @RateLimit 'uploads' on UploadsController.upload: it limits concurrency only`);
    // Under an outer rate limit of its name, the same options belong to that rate limit: it starts.
    await expect(boot({ rate: 10, name: 'uploads' }, [UploadsController])).resolves.toBeUndefined();
  });

  test('the same handler limit without the module default it inherits from fails the bootstrap', async () => {
    await expect(boot({ concurrency: 4 }, [UsersController])).rejects.toThrow("@RateLimit 'default' on UsersController.list");
  });

  test('an inner limit without concurrency under a concurrency-only limit of its name starts (it keeps the permits); one that sets a rate option does not', async () => {
    const byUser = (context: ExecutionContext): string => header(context, 'x-user') ?? 'anonymous';
    @RateLimit({ name: 'exports', concurrency: 1 })
    @Controller('exports')
    class ExportsController {
      @RateLimit({ name: 'exports', key: byUser })
      @Get()
      exportAll(): string {
        return 'done';
      }
    }
    @Controller('reports')
    class ReportsController {
      @RateLimit({ key: byUser })
      @Get()
      report(): string {
        return 'done';
      }
    }
    @RateLimit({ name: 'exports', concurrency: 1 })
    @Controller('bursts')
    class BurstController {
      @RateLimit({ name: 'exports', burst: 2 })
      @Get()
      burst(): string {
        return 'never';
      }
    }
    await expect(boot({}, [ExportsController])).resolves.toBeUndefined();
    await expect(boot({ concurrency: 1 }, [ReportsController])).resolves.toBeUndefined();
    await expect(boot({}, [BurstController])).rejects.toThrow("@RateLimit 'exports' on BurstController.burst");
  });

  test('two different classes of the same name declaring a limit of the same name fail the bootstrap', async () => {
    await expect(boot({ rate: 10 }, [namesake('a'), namesake('b')])).rejects.toThrow('declared by two different classes or handlers named ReportsController');
  });
});

describe.each(PLATFORMS)('FlowgateGuard on %s', (platform) => {
  test('a subclass maps requests through getKey, getCost, shouldSkip and onRejected', async () => {
    const { url } = await startNest(rootModule({ rate: 1, interval: '10s', burst: 3 }, TenantGuard), platform);
    const ping = (headers: Record<string, string>) => get(url('/ping'), headers);
    const heavy = await ping({ 'x-tenant': 'acme', 'x-cost': '3' });
    expect(heavy.status).toBe(200);
    expect(heavy.headers.ratelimit).toMatch(/^"default";r=0;/);
    expect((await ping({ 'x-tenant': 'acme', 'x-internal': 'yes' })).status).toBe(200);
    const rejected = await ping({ 'x-tenant': 'acme' });
    expect(rejected.status).toBe(418);
    expect(rejected.json()).toEqual({ limited: 'default', reason: 'limited' });
    expect((await ping({ 'x-tenant': 'globex' })).status).toBe(200);
  });

  test.each<[string, FlowgateModuleOptions['message'], RegExp, unknown]>([
    ['a string', 'Slow down.', /^text\/plain\b/, 'Slow down.'],
    ['an object', { error: 'slow down' }, /^application\/json\b/, { error: 'slow down' }],
    ['a function', (_context: ExecutionContext, decision: Decision) => ({ retryInMs: decision.retryAfterMs > 0 }), /^application\/json\b/, { retryInMs: true }],
  ])('the message option as %s sets the body and its content type', async (_name, message, contentType, body) => {
    const { url } = await startNest(rootModule({ rate: 1, interval: '10s', burst: 1, statusCode: 503, message }), platform);
    expect((await get(url('/ping'))).status).toBe(200);
    const rejected = await get(url('/ping'));
    expect(rejected.status).toBe(503);
    expect(rejected.headers['content-type']).toMatch(contentType);
    expect(typeof body === 'string' ? rejected.body : rejected.json()).toEqual(body);
    expect(rejected.headers['retry-after']).toBeDefined();
  });

  test("draft-7 headers and no headers follow the module's headers option", async () => {
    const draft7 = await startNest(rootModule({ rate: 1, interval: '10s', burst: 2, headers: 'draft-7' }), platform);
    const answer = await get(draft7.url('/ping'));
    expect(answer.headers['ratelimit-policy']).toBe('2;w=20');
    expect(answer.headers.ratelimit).toMatch(/^limit=2, remaining=1, reset=\d+$/);
    const none = await startNest(rootModule({ rate: 1, interval: '10s', burst: 2, headers: false }), platform);
    expect((await get(none.url('/ping'))).headers.ratelimit).toBeUndefined();
  });
});
