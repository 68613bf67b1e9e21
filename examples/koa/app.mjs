// The Koa example app: every route limited by flowgate, with an overflow queue; GET / says hello.

import Koa from 'koa';
import { rateLimit } from 'flowgate/koa';

/**
 * Builds the example app. `limit` holds flowgate's options; `store` (optional) shares the limit
 * with other processes, for example a ZooKeeper store.
 */
export function createApp(limit) {
  const app = new Koa();
  const limiter = rateLimit(limit);
  app.use(limiter);
  app.use((ctx) => {
    if (ctx.path === '/') ctx.body = { hello: 'world', waitedMs: Math.round(ctx.state.rateLimit.waitedMs) };
  });
  return { app, limiter };
}
