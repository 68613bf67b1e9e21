// The Koa test apps (Koa 3, and Koa 2 through the `koa2` alias): flowgate/koa, GET /hello answering with the decision, GET /boom throwing.

import Koa, { type Context } from 'koa';
import Koa2 from 'koa2';
import { rateLimit } from '../../../adapters/koa/index.js';
import { adapterOptions, helloBody, type AppFactory } from './app-factory.js';
import { listen } from './listen.js';

/** A factory of apps of the given Koa major version. */
function koaAppOf(KoaClass: typeof Koa): AppFactory {
  return async (limit) => {
    const middleware = rateLimit(adapterOptions(limit, (ctx: Context) => ({ header: (name) => ctx.get(name) || undefined })));
    const app = new KoaClass();
    // Errors of the key function are part of the scenarios: answered 500, not logged.
    app.silent = true;
    app.use(middleware);
    app.use((ctx) => {
      if (ctx.path === '/boom') throw new Error('boom');
      if (ctx.path === '/hello') ctx.body = helloBody(ctx.state.rateLimit);
    });
    return listen(app.callback(), middleware.limiter);
  };
}

/** Starts a Koa 3 app limited by `limit`. */
export const koaApp: AppFactory = koaAppOf(Koa);

/** Starts a Koa 2 app limited by `limit`. */
export const koa2App: AppFactory = koaAppOf(Koa2);
