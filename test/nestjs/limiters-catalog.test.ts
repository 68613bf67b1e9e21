// FlowgateLimiters as a catalog (what flowgate/metrics observes): the concurrency limits made so far, and each one
// made later, once, beside the rate limiters.

import { Controller, Get, Module, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule, RateLimit, type FlowgateModuleOptions } from '../../adapters/nestjs/index.js';
import { createConcurrencyLimiter, type ConcurrencyLimiter, type Limiter } from '../../src/index.js';
import { get } from '../adapters/http-client.js';
import { closeNestApps, startNest } from './nest-harness.js';

afterEach(closeNestApps);

@RateLimit({ name: 'reports', concurrency: 2 })
@Controller()
class CatalogController {
  @Get('plain')
  plain(): string {
    return 'plain';
  }

  @RateLimit({ name: 'exports', concurrency: 1 })
  @Get('export')
  export(): string {
    return 'export';
  }

  // Same name as the class's limit, no `concurrency` of its own: it keeps the class's permits.
  @RateLimit({ name: 'reports', rate: 100 })
  @Get('report')
  report(): string {
    return 'report';
  }

  @RateLimit({ name: 'late', concurrency: 1 })
  @Get('late')
  late(): string {
    return 'late';
  }
}

function rootModule(options: FlowgateModuleOptions): Type<unknown> {
  @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [CatalogController], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class RootModule {}
  return RootModule;
}

const names = (limits: ReadonlyArray<{ readonly name: string }>): string[] => limits.map((limit) => limit.name);

test("concurrencyLimiters() lists the module's limit from startup; onConcurrencyLimiter reports each @RateLimit one once, when first guarded", async () => {
  const { app, url } = await startNest(rootModule({ concurrency: 5 }), 'express');
  const limiters = app.get(FlowgateLimiters);
  expect(names(limiters.concurrencyLimiters())).toEqual(['default']);
  expect(limiters.concurrencyLimiters()[0]).toBe(limiters.defaultConcurrency?.concurrency);
  const reported: ConcurrencyLimiter[] = [];
  const rated: Limiter[] = [];
  const stop = limiters.onConcurrencyLimiter((limiter) => reported.push(limiter));
  limiters.onLimiter((limiter) => rated.push(limiter));

  expect((await get(url('/plain'))).status).toBe(200);
  expect(names(reported)).toEqual(['CatalogController:reports']);
  expect((await get(url('/export'))).status).toBe(200);
  expect((await get(url('/export'))).status).toBe(200);
  expect(names(reported)).toEqual(['CatalogController:reports', 'CatalogController.export:exports']);
  // The inner 'reports' limit shares the class's permits: no new concurrency limit, one new rate limiter.
  expect((await get(url('/report'))).status).toBe(200);
  expect(reported).toHaveLength(2);
  expect(names(rated)).toEqual(['CatalogController.report:reports']);
  expect(names(limiters.concurrencyLimiters())).toEqual(['default', 'CatalogController:reports', 'CatalogController.export:exports']);
  // Rate limiters stay apart: limiters() gives no concurrency limit.
  expect(names(limiters.limiters())).toEqual(['CatalogController.report:reports']);

  // Stopped: a limit made later is listed, not reported.
  stop();
  expect((await get(url('/late'))).status).toBe(200);
  expect(reported).toHaveLength(2);
  expect(names(limiters.concurrencyLimiters()).at(-1)).toBe('CatalogController.late:late');
});

test('a ConcurrencyLimiter given as the module option is listed too (the app does not close it)', async () => {
  const given = createConcurrencyLimiter({ concurrency: 3, name: 'given' });
  try {
    const { app } = await startNest(rootModule({ concurrency: given }), 'express');
    expect(app.get(FlowgateLimiters).concurrencyLimiters()).toEqual([given]);
  } finally {
    await closeNestApps();
    await given.close();
  }
});
