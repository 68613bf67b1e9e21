// Reference variant "koa-floor-headers" (BENCH_FLOORS=1): a middleware that only sets two constant headers of
// flowgate's size with ctx.set: the floor of any limiter that sends the RateLimit headers through Koa's API.
import { serveKoaHello } from './koa-hello-app.mjs';

serveKoaHello((ctx, next) => {
  ctx.set('RateLimit-Policy', '"default";q=1000000000;w=1');
  ctx.set('RateLimit', '"default";r=999999999;t=0');
  return next();
});
