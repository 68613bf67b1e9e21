// The Express test app: flowgate/express on every route, GET /hello answering with the decision, GET /boom throwing.

import express, { type Request } from 'express';
import { rateLimit } from '../../../adapters/express/index.js';
import { adapterOptions, helloBody, type AppFactory } from './app-factory.js';
import { listen } from './listen.js';

/** Starts an Express 5 app limited by `limit`. */
export const expressApp: AppFactory = async (limit) => {
  const middleware = rateLimit(adapterOptions(limit, (req: Request) => ({ header: (name) => req.get(name) })));
  const app = express();
  // Express's own error answer, without its log line.
  app.set('env', 'test');
  app.use(middleware);
  app.get('/hello', (req, res) => {
    res.json(helloBody(req.rateLimit));
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  return listen(app, middleware.limiter);
};
