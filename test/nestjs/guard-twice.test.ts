// FlowgateGuard running more than once for one request (APP_GUARD plus @UseGuards(FlowgateGuard), or
// @UseGuards on the class and the handler): each limit is taken once per request.

import { Controller, Get, Module, Req, UseGuards, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FlowgateGuard, FlowgateModule, RateLimit, type FlowgateModuleOptions } from '../../adapters/nestjs/index.js';
import type { Decision } from '../../src/decision.js';
import { get, open } from '../adapters/http-client.js';
import { Gate } from '../concurrency/helpers/gate.js';
import { waitFor } from '../helpers/wait.js';
import { closeNestApps, PLATFORMS, startNest, type Platform } from './nest-harness.js';

/** What a route answers: the names of the limits it passed. */
function names(request: { rateLimits?: Record<string, Decision> }): string[] {
  return Object.keys(request.rateLimits ?? {});
}

const gate = new Gate();

/** Guarded by APP_GUARD and by @UseGuards on the class; `twice` also by @UseGuards on the handler. */
@Controller('app-and-class')
@UseGuards(FlowgateGuard)
class AppAndClassController {
  @Get()
  once(@Req() request: object): string[] {
    return names(request);
  }

  @Get('handler')
  @UseGuards(FlowgateGuard)
  twice(@Req() request: object): string[] {
    return names(request);
  }

  @Get('held')
  @UseGuards(FlowgateGuard)
  async held(@Req() request: { headers: Record<string, string | undefined> }): Promise<string> {
    await gate.enter(String(request.headers['x-id']));
    return 'done';
  }

  @Get('named')
  @RateLimit({ name: 'extra', rate: 1, interval: '10s', burst: 3 })
  named(@Req() request: object): string[] {
    return names(request);
  }
}

/** No APP_GUARD: @UseGuards on the class and on the handler. */
@Controller('class-and-handler')
@UseGuards(FlowgateGuard)
class ClassAndHandlerController {
  @Get()
  @UseGuards(FlowgateGuard)
  both(@Req() request: object): string[] {
    return names(request);
  }
}

function appModule(options: FlowgateModuleOptions): new () => unknown {
  @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [AppAndClassController], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class AppModule {}
  return AppModule;
}

function classModule(options: FlowgateModuleOptions): new () => unknown {
  @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [ClassAndHandlerController] })
  class ClassModule {}
  return ClassModule;
}

afterEach(async () => {
  gate.openAll();
  await closeNestApps();
});

describe.each(PLATFORMS)('FlowgateGuard applied more than once on %s', (platform: Platform) => {
  test('APP_GUARD plus @UseGuards on the class (and on the handler) takes one token per request', async () => {
    const { url } = await startNest(appModule({ rate: 1, interval: '10s', burst: 5 }), platform);
    const first = await get(url('/app-and-class'));
    expect(first.status).toBe(200);
    expect(first.headers.ratelimit).toMatch(/^"default";r=4;t=\d+$/);
    expect(first.json<string[]>()).toEqual(['default']);
    const second = await get(url('/app-and-class/handler'));
    expect(second.status).toBe(200);
    expect(second.headers.ratelimit).toMatch(/^"default";r=3;t=\d+$/);
  });

  test('with several limits (the async path), each is taken once per request', async () => {
    const { url } = await startNest(appModule({ rate: 1, interval: '10s', burst: 5 }), platform);
    for (const [left, extraLeft] of [
      [4, 2],
      [3, 1],
    ]) {
      const answer = await get(url('/app-and-class/named'));
      expect(answer.status).toBe(200);
      expect(answer.headers.ratelimit).toMatch(new RegExp(`^"default";r=${left};t=\\d+, "extra";r=${extraLeft};t=\\d+$`));
      expect(answer.json<string[]>()).toEqual(['default', 'extra']);
    }
  });

  test('@UseGuards on the class and on the handler, without APP_GUARD, takes one token per request', async () => {
    const { url } = await startNest(classModule({ rate: 1, interval: '10s', burst: 5 }), platform);
    for (const left of [4, 3]) {
      const answer = await get(url('/class-and-handler'));
      expect(answer.status).toBe(200);
      expect(answer.headers.ratelimit).toMatch(new RegExp(`^"default";r=${left};t=\\d+$`));
    }
  });

  // A key per request: a permit is released when the server closes the response, which may come
  // after the client has read it; a new key does not depend on that.
  const byId = { key: (context: ExecutionContext) => String(context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers['x-id']) };

  test('with concurrency: 1, a request holds one permit and is served', async () => {
    const { url } = await startNest(appModule({ concurrency: 1, ...byId }), platform);
    for (const [id, path] of [['1', '/app-and-class'], ['2', '/app-and-class/handler']] as const) {
      const answer = await get(url(path), { 'x-id': id });
      expect(answer.status).toBe(200);
      expect(answer.headers.ratelimit).toBe('"default";r=0');
    }
  });

  test('with concurrency: 1, a second request of the same key in flight is still refused', async () => {
    const sameKey = { key: () => 'k' };
    const { url } = await startNest(appModule({ concurrency: 1, ...sameKey }), platform);
    const first = open(url('/app-and-class/held'), { 'x-id': `${platform}-1` });
    await waitFor(() => gate.arrived(`${platform}-1`), 5000, 'the first request running');
    const second = await get(url('/app-and-class/held'), { 'x-id': `${platform}-2` });
    expect(second.status).toBe(429);
    expect(gate.arrived(`${platform}-2`)).toBe(false);
    gate.open(`${platform}-1`);
    expect((await first.answer).status).toBe(200);
  });

  test('a rate limit and a concurrency limit: one token and one permit per request', async () => {
    const { url } = await startNest(appModule({ rate: 1, interval: '10s', burst: 5, concurrency: 1, ...byId }), platform);
    for (const id of ['1', '2']) {
      const answer = await get(url('/app-and-class/handler'), { 'x-id': id });
      expect(answer.status).toBe(200);
      expect(answer.headers.ratelimit).toMatch(/^"default";r=4;t=\d+, "default-concurrency";r=0$/);
    }
  });
});
