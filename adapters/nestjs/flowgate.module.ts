// FlowgateModule: provides the options, the app's limiters and the rejection filter, from forRoot or forRootAsync.

import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { FlowgateConfigError } from '../../src/errors.js';
import { FLOWGATE_OPTIONS } from './flowgate.constants.js';
import { FlowgateExceptionFilter } from './flowgate-exception.filter.js';
import { FlowgateLimiters } from './flowgate-limiters.service.js';
import type { FlowgateModuleAsyncOptions, FlowgateModuleOptions, FlowgateOptionsFactory } from './flowgate-options.interface.js';

/** The options provider of `forRootAsync`, from exactly one of useFactory, useClass, useExisting. */
function asyncOptionsProviders(options: FlowgateModuleAsyncOptions): Provider[] {
  const given = (['useFactory', 'useClass', 'useExisting'] as const).filter((k) => options?.[k] !== undefined);
  if (given.length !== 1) {
    throw new FlowgateConfigError('forRootAsync', given, 'takes exactly one of useFactory, useClass, useExisting');
  }
  const fromFactory = (factory: FlowgateOptionsFactory): ReturnType<FlowgateOptionsFactory['createFlowgateOptions']> => factory.createFlowgateOptions();
  if (options.useFactory !== undefined) {
    return [{ provide: FLOWGATE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }];
  }
  if (options.useClass !== undefined) {
    return [
      { provide: options.useClass, useClass: options.useClass },
      { provide: FLOWGATE_OPTIONS, useFactory: fromFactory, inject: [options.useClass] },
    ];
  }
  return [{ provide: FLOWGATE_OPTIONS, useFactory: fromFactory, inject: [options.useExisting as NonNullable<FlowgateModuleAsyncOptions['useExisting']>] }];
}

/**
 * Configures flowgate for a Nest app (import it once, in the root module; it is global). It
 * provides {@link FlowgateLimiters} and registers {@link FlowgateExceptionFilter}; protect routes
 * with `FlowgateGuard`, as `APP_GUARD` or through `@UseGuards`. At shutdown the limiters and the
 * store are closed. Bad options fail the app's bootstrap.
 *
 * @example
 * @Module({
 *   imports: [FlowgateModule.forRoot({ rate: 100, interval: '1m', queue: { maxSize: 20, maxWait: '2s' } })],
 *   providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
 * })
 * export class AppModule {}
 */
@Global()
@Module({})
export class FlowgateModule {
  /** The module with fixed options. */
  static forRoot(options: FlowgateModuleOptions = {}): DynamicModule {
    return FlowgateModule.assemble([{ provide: FLOWGATE_OPTIONS, useValue: options }], []);
  }

  /** The module with options made by a factory, a class, or an existing provider from `imports`. */
  static forRootAsync(options: FlowgateModuleAsyncOptions): DynamicModule {
    return FlowgateModule.assemble(asyncOptionsProviders(options), options.imports ?? []);
  }

  private static assemble(optionsProviders: Provider[], imports: NonNullable<FlowgateModuleAsyncOptions['imports']>): DynamicModule {
    return {
      module: FlowgateModule,
      imports: [DiscoveryModule, ...imports],
      providers: [...optionsProviders, FlowgateLimiters, { provide: APP_FILTER, useClass: FlowgateExceptionFilter }],
      exports: [FLOWGATE_OPTIONS, FlowgateLimiters],
    };
  }
}
