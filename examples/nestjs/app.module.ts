// The example's root module: flowgate for the whole app through the global guard, and its metrics on GET /metrics.

import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { ZooKeeperStore } from 'flowgate';
import { flowgateMetrics, FlowgateMetrics } from 'flowgate/metrics';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule } from 'flowgate/nestjs';
import { HelloController } from './hello.controller.js';
import { MetricsController } from './metrics.controller.js';

/** The root module, with the limits on the embedded store or on `store` (closed at shutdown). */
export function appModule(store: ZooKeeperStore | undefined): DynamicModule {
  return {
    module: AppModule,
    imports: [FlowgateModule.forRoot({ rate: 5, interval: '1s', burst: 5, queue: { maxSize: 10, maxWait: '2s' }, ...(store && { store }) })],
    controllers: [HelloController, MetricsController],
    providers: [
      { provide: APP_GUARD, useClass: FlowgateGuard },
      {
        // Every limit of the app: the module's default one now, each @RateLimit one when a route first uses it.
        provide: FlowgateMetrics,
        inject: [FlowgateLimiters],
        useFactory: (limiters: FlowgateLimiters): FlowgateMetrics => {
          const metrics = flowgateMetrics().observe(limiters);
          if (store) metrics.observeStore(store);
          return metrics;
        },
      },
    ],
  };
}

@Module({})
export class AppModule {}
