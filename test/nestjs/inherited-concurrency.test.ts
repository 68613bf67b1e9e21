// An inner @RateLimit without `concurrency` under an outer concurrency-only limit of its name (the
// class's, or the module's): it keeps the outer limit's permits, with its own key.

import { Controller, Get, Module, Req, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule, RateLimit, type FlowgateModuleOptions } from '../../adapters/nestjs/index.js';
import { get, open } from '../adapters/http-client.js';
import { Gate } from '../concurrency/helpers/gate.js';
import { waitFor } from '../helpers/wait.js';
import { closeNestApps, PLATFORMS, startNest, type Platform } from './nest-harness.js';

type Headers = { headers: Record<string, string | undefined> };

/** The `x-user` header of the request, as a key. */
function userKey(context: ExecutionContext): string {
  return `user:${context.switchToHttp().getRequest<Headers>().headers['x-user'] ?? 'anonymous'}`;
}

const gate = new Gate();

/** One export at a time (class), per user (handler). */
@Controller('exports')
@RateLimit({ name: 'exports', concurrency: 1 })
class ExportsController {
  @Get()
  @RateLimit({ name: 'exports', key: userKey })
  async exportAll(@Req() request: Headers): Promise<string> {
    await gate.enter(String(request.headers['x-id']));
    return 'done';
  }
}

/** Under the module's concurrency limit: a handler limit of its name with its own key. */
@Controller('reports')
class ReportsController {
  @Get()
  @RateLimit({ key: userKey })
  async report(@Req() request: Headers): Promise<string> {
    await gate.enter(String(request.headers['x-id']));
    return 'done';
  }
}

function rootModule(options: FlowgateModuleOptions, controller: new () => unknown): new () => unknown {
  @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [controller], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class RootModule {}
  return RootModule;
}

afterEach(async () => {
  gate.openAll();
  await closeNestApps();
});

describe.each(PLATFORMS)('an inner limit without concurrency keeps the outer permits, with its own key, on %s', (platform: Platform) => {
  /** u1 holds the only permit of its key: u1 again is refused, u2 is served. */
  async function oneAtATimePerUser(url: string, label: string): Promise<void> {
    const first = open(url, { 'x-user': 'u1', 'x-id': `${label}-1` });
    await waitFor(() => gate.arrived(`${label}-1`), 5000, 'the first request running');
    const again = await get(url, { 'x-user': 'u1', 'x-id': `${label}-2` });
    expect(again.status).toBe(429);
    expect(gate.arrived(`${label}-2`)).toBe(false);
    const other = open(url, { 'x-user': 'u2', 'x-id': `${label}-3` });
    await waitFor(() => gate.arrived(`${label}-3`), 5000, "the other user's request running");
    gate.open(`${label}-1`);
    gate.open(`${label}-3`);
    expect((await first.answer).status).toBe(200);
    expect((await other.answer).status).toBe(200);
  }

  test("under the class's @RateLimit({ name, concurrency: 1 }): the app starts, and permits are counted per user", async () => {
    // Before the fix, the bootstrap failed: "rate=undefined is required by @RateLimit 'exports'".
    const { app, url } = await startNest(rootModule({}, ExportsController), platform);
    await oneAtATimePerUser(url('/exports'), `${platform}-class`);
    // The handler's limit shares the class's permits: no limit of its own, no rate limiter.
    const limiters = app.get(FlowgateLimiters);
    expect(limiters.concurrencyLimiters()).toHaveLength(1);
    expect(limiters.limiters()).toHaveLength(0);
  });

  test("under forRoot({ concurrency: 1 }): the app starts, and permits are counted per user", async () => {
    const { app, url } = await startNest(rootModule({ concurrency: 1 }, ReportsController), platform);
    await oneAtATimePerUser(url('/reports'), `${platform}-module`);
    const limiters = app.get(FlowgateLimiters);
    expect(limiters.concurrencyLimiters()).toEqual([limiters.defaultConcurrency?.concurrency]);
    expect(limiters.limiters()).toHaveLength(0);
  });
});
