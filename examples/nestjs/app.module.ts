// The example's root module: flowgate for the whole app through the global guard.

import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Store } from 'flowgate';
import { FlowgateGuard, FlowgateModule } from 'flowgate/nestjs';
import { HelloController } from './hello.controller.js';

/** The root module, with the limits on the embedded store or on `store` (closed at shutdown). */
export function appModule(store: Store | undefined): DynamicModule {
  return {
    module: AppModule,
    imports: [FlowgateModule.forRoot({ rate: 5, interval: '1s', burst: 5, queue: { maxSize: 10, maxWait: '2s' }, ...(store && { store }) })],
    controllers: [HelloController],
    providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
  };
}

@Module({})
export class AppModule {}
