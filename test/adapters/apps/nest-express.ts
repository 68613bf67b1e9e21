// The Nest test app on @nestjs/platform-express.

import { ExpressAdapter } from '@nestjs/platform-express';
import type { AppFactory } from './app-factory.js';
import { startNestApp } from './nest-module.js';

/** Starts a Nest app on Express limited by `limit`. */
export const nestExpressApp: AppFactory = (limit) => startNestApp(limit, new ExpressAdapter(), { forceCloseConnections: true });
