// Reference variant "koa-floor-noop" (BENCH_FLOORS=1): a pass-through middleware, the cost of one more Koa middleware.
import { serveKoaHello } from './koa-hello-app.mjs';

serveKoaHello((ctx, next) => next());
