// The Nest test app on @nestjs/platform-fastify.

import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AppFactory } from './app-factory.js';
import { startNestApp } from './nest-module.js';

/** Starts a Nest app on Fastify limited by `limit`. */
export const nestFastifyApp: AppFactory = (limit) => startNestApp(limit, new FastifyAdapter({ forceCloseConnections: true }));
