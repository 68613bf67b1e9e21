// FlowgateModule: forRoot validation, forRootAsync (useFactory, useClass, useExisting), and shutdown.

import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  FlowgateGuard,
  FlowgateLimiters,
  FlowgateModule,
  type FlowgateModuleAsyncOptions,
  type FlowgateModuleOptions,
  type FlowgateOptionsFactory,
} from '../../adapters/nestjs/index.js';
import { FlowgateConfigError } from '../../src/errors.js';
import { MemoryStore } from '../../src/memory-store.js';
import { get, open } from '../adapters/http-client.js';
import { closeNestApps, PLATFORMS, startNest } from './nest-harness.js';

@Controller()
class PingController {
  @Get('ping')
  ping(): string {
    return 'pong';
  }
}

/** A root module with the flowgate module given, the global guard and `GET /ping`. */
function rootWith(flowgate: ReturnType<typeof FlowgateModule.forRoot>): new () => unknown {
  @Module({ imports: [flowgate], controllers: [PingController], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class RootModule {}
  return RootModule;
}

/** A configuration provider, as an app's own config module would export it. */
@Injectable()
class LimitSettings {
  readonly burst = 2;
}

@Injectable()
class FlowgateSettings implements FlowgateOptionsFactory {
  constructor(private readonly settings: LimitSettings) {}

  createFlowgateOptions(): FlowgateModuleOptions {
    return { rate: 1, interval: '10s', burst: this.settings.burst };
  }
}

@Module({ providers: [LimitSettings, FlowgateSettings], exports: [LimitSettings, FlowgateSettings] })
class SettingsModule {}

afterEach(closeNestApps);

describe.each(PLATFORMS)('FlowgateModule on %s', (platform) => {
  const asyncVariants: Array<[string, FlowgateModuleAsyncOptions]> = [
    [
      'useFactory with inject',
      { imports: [SettingsModule], inject: [LimitSettings], useFactory: (s: LimitSettings) => ({ rate: 1, interval: '10s', burst: s.burst }) },
    ],
    ['an async useFactory', { useFactory: async () => ({ rate: 1, interval: '10s', burst: 2 }) }],
    ['useClass', { imports: [SettingsModule], useClass: FlowgateSettings }],
    ['useExisting', { imports: [SettingsModule], useExisting: FlowgateSettings }],
  ];

  test.each(asyncVariants)('forRootAsync with %s configures the default limit', async (_name, options) => {
    const { url } = await startNest(rootWith(FlowgateModule.forRootAsync(options)), platform);
    const first = await get(url('/ping'));
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"default";q=2;w=20');
    expect((await get(url('/ping'))).status).toBe(200);
    expect((await get(url('/ping'))).status).toBe(429);
  });

  test('without a default limit, routes without @RateLimit are not limited', async () => {
    const { url } = await startNest(rootWith(FlowgateModule.forRoot({ headers: 'draft-7' })), platform);
    for (let i = 0; i < 3; i++) {
      const answer = await get(url('/ping'));
      expect(answer.status).toBe(200);
      expect(answer.headers.ratelimit).toBeUndefined();
    }
  });

  test.each([false, true])('the default key is the client IP; X-Forwarded-For counts only with the platform trusting proxies (%s)', async (trustProxy) => {
    const { url } = await startNest(rootWith(FlowgateModule.forRoot({ rate: 1, interval: '10s', burst: 1 })), platform, { trustProxy });
    expect((await get(url('/ping'), { 'x-forwarded-for': '203.0.113.7' })).status).toBe(200);
    // Another forwarded client: its own bucket behind a trusted proxy, the same socket address otherwise.
    expect((await get(url('/ping'), { 'x-forwarded-for': '203.0.113.8' })).status).toBe(trustProxy ? 200 : 429);
    expect((await get(url('/ping'), { 'x-forwarded-for': '203.0.113.7' })).status).toBe(429);
  });

  test('app.close() closes the limiters, answers a waiting request 503, and closes the store', async () => {
    const store = new MemoryStore();
    const closeStore = jest.spyOn(store, 'close');
    const { app, url } = await startNest(
      rootWith(FlowgateModule.forRoot({ rate: 1, interval: '10s', burst: 1, queue: { maxSize: 5, maxWait: '20s' }, store })),
      platform,
    );
    const limiter = app.get(FlowgateLimiters).defaultLimit?.limiter;
    expect((await get(url('/ping'))).status).toBe(200);
    const enqueued = new Promise((resolve) => limiter?.once('enqueue', resolve));
    const waiting = open(url('/ping'));
    await enqueued;
    const closing = app.close();
    const answer = await waiting.answer;
    await closing;
    expect(answer.status).toBe(503);
    expect(answer.json()).toMatchObject({ status: 503, type: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity' });
    expect(closeStore).toHaveBeenCalledTimes(1);
    expect((await limiter?.take('anyone'))?.reason).toBe('closed');
  });
});

describe('FlowgateModule options', () => {
  test.each<[string, FlowgateModuleOptions]>([
    ['a bad rate', { rate: -1 }],
    ['an unknown option', { windowMs: 1000 } as FlowgateModuleOptions],
    ['a default-limit option without a rate', { burst: 5 }],
    ['a key that is not a function', { key: 'ip' } as unknown as FlowgateModuleOptions],
  ])('%s fails the bootstrap with FlowgateConfigError', async (_name, options) => {
    const compiling = Test.createTestingModule({ imports: [rootWith(FlowgateModule.forRoot(options))] }).compile();
    await expect(compiling).rejects.toThrow(FlowgateConfigError);
  });

  test('forRootAsync takes exactly one of useFactory, useClass, useExisting', () => {
    expect(() => FlowgateModule.forRootAsync({})).toThrow(FlowgateConfigError);
    expect(() => FlowgateModule.forRootAsync({ useClass: FlowgateSettings, useExisting: FlowgateSettings })).toThrow(/exactly one/);
  });
});
