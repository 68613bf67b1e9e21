// The Nest test apps' shared part: a root module with FlowgateModule and the global guard, started on a given platform.

import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, Req, type ExecutionContext, type Type } from '@nestjs/common';
import { AbstractHttpAdapter, APP_GUARD, NestFactory } from '@nestjs/core';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule } from '../../../adapters/nestjs/index.js';
import type { Decision } from '../../../src/decision.js';
import { adapterOptions, headerOf, helloBody, type HelloBody, type PortableLimit, type RunningApp } from './app-factory.js';

/** The portable view of the HTTP request of an execution context (Express or Fastify). */
function viewOf(context: ExecutionContext): { header(name: string): string | undefined } {
  const request = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
  return { header: (name) => headerOf(request.headers, name) };
}

/** A root module limited by `limit`, app-wide, through the global guard, serving `GET /hello` (and `GET /boom`, which throws). */
function nestAppModule(limit: PortableLimit): Type<unknown> {
  @Controller()
  class HelloController {
    @Get('hello')
    hello(@Req() request: { rateLimit?: Decision }): HelloBody {
      return helloBody(request.rateLimit);
    }

    @Get('boom')
    boom(): never {
      throw new Error('boom');
    }
  }

  @Module({
    imports: [FlowgateModule.forRoot(adapterOptions(limit, viewOf))],
    controllers: [HelloController],
    providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
  })
  class AppModule {}

  return AppModule;
}

/** Starts a Nest app limited by `limit` on the platform of `adapter`, on 127.0.0.1. */
export async function startNestApp(limit: PortableLimit, adapter: AbstractHttpAdapter, options: { forceCloseConnections?: boolean } = {}): Promise<RunningApp> {
  const app = await NestFactory.create(nestAppModule(limit), adapter, { logger: false, ...options });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const limiter = app.get(FlowgateLimiters).defaultLimit?.limiter;
  if (limiter === undefined) throw new Error('the test module defines a default limit');
  return { url: `http://127.0.0.1:${port}/hello`, limiter, close: () => app.close() };
}
