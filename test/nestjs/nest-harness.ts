// Starts a Nest app from a root module on Express or Fastify through @nestjs/testing, on 127.0.0.1.

import type { AddressInfo } from 'node:net';
import type { INestApplication, Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

/** The HTTP platforms every focused NestJS test runs on. */
export const PLATFORMS = ['express', 'fastify'] as const;

/** One of {@link PLATFORMS}. */
export type Platform = (typeof PLATFORMS)[number];

/** A running Nest app. */
export interface NestTestApp {
  readonly app: INestApplication;
  /** The URL of `path` on the app. */
  url(path: string): string;
}

const running: INestApplication[] = [];

/** Closes every app started since the last call (for `afterEach`). */
export async function closeNestApps(): Promise<void> {
  await Promise.all(running.splice(0).map((app) => app.close()));
}

/** Compiles `rootModule` and listens on a free port of 127.0.0.1 with the `platform` adapter (`trustProxy`: Express's `trust proxy`, Fastify's `trustProxy`). */
export async function startNest(rootModule: Type<unknown>, platform: Platform, options: { trustProxy?: boolean } = {}): Promise<NestTestApp> {
  const moduleRef = await Test.createTestingModule({ imports: [rootModule] }).compile();
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ forceCloseConnections: true, trustProxy: options.trustProxy === true });
  if (platform === 'express' && options.trustProxy === true) (adapter as ExpressAdapter).set('trust proxy', true);
  const app = moduleRef.createNestApplication(adapter, { logger: false, ...(platform === 'express' && { forceCloseConnections: true }) });
  running.push(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: (path) => `http://127.0.0.1:${port}${path}` };
}
