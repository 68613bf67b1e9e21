// The Express test app: flowgate/express on every route, GET /hello answering with the decision.

import express, { type Request } from 'express';
import { rateLimit } from '../../../adapters/express/index.js';
import { adapterOptions, helloBody, type AppFactory } from './app-factory.js';
import { listen } from './listen.js';

/** Starts an Express 5 app limited by `limit`. */
export const expressApp: AppFactory = async (limit) => {
  const middleware = rateLimit(adapterOptions(limit, (req: Request) => ({ header: (name) => req.get(name) })));
  const app = express();
  app.use(middleware);
  app.get('/hello', (req, res) => {
    res.json(helloBody(req.rateLimit));
  });
  return listen(app, middleware.limiter);
};
