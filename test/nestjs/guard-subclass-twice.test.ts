// A FlowgateGuard subclass with a key of its own beside APP_GUARD FlowgateGuard: both guards run for
// one request, and each takes its limits under its own key (the once-per-request rule is per guard class).

import { Controller, Get, Injectable, Module, UseGuards, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FlowgateGuard, FlowgateModule } from '../../adapters/nestjs/index.js';
import type { RouteConcurrency, RouteLimit } from '../../adapters/nestjs/route-limit.interface.js';
import { get } from '../adapters/http-client.js';
import { closeNestApps, PLATFORMS, startNest, type Platform } from './nest-harness.js';

function header(context: ExecutionContext, name: string): string {
  return String(context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers[name]);
}

/** Limits each user, whatever the tenant the module's guard keys by. */
@Injectable()
class PerUserGuard extends FlowgateGuard {
  protected override getKey(context: ExecutionContext, _limit: RouteLimit | RouteConcurrency): string {
    return `user:${header(context, 'x-user')}`;
  }
}

@Controller('reports')
@UseGuards(PerUserGuard)
class ReportsController {
  @Get()
  list(): string {
    return 'ok';
  }
}

@Module({
  imports: [FlowgateModule.forRoot({ rate: 1, interval: '60s', burst: 3, key: (context) => `tenant:${header(context, 'x-tenant')}` })],
  controllers: [ReportsController],
  providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }, PerUserGuard],
})
class ReportsModule {}

afterEach(closeNestApps);

describe.each(PLATFORMS)('%s', (platform: Platform) => {
  test('user a asking from 5 tenants: the per-user guard still takes its limit (burst 3), the tenant guard its own', async () => {
    const { url } = await startNest(ReportsModule, platform);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(url('/reports'), { 'x-user': 'a', 'x-tenant': `t${i}` })).status);
    // Before (the once-per-request rule went by limiter alone): the per-user guard skipped its
    // limit as "taken" by the tenant guard, and all 5 passed.
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // And a tenant's own limit still holds: 3 more from tenant t9, different users.
    const tenant: number[] = [];
    for (let i = 0; i < 4; i++) tenant.push((await get(url('/reports'), { 'x-user': `u${i}`, 'x-tenant': 't9' })).status);
    expect(tenant).toEqual([200, 200, 200, 429]);
  });
});
