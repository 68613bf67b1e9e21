// Reference variant "floor-headers" (BENCH_FLOORS=1): an Express middleware that only sets two constant headers of
// flowgate's size with res.setHeader: the floor of any limiter that sends the RateLimit headers.
import { serveHello } from './hello-app.mjs';

serveHello((req, res, next) => {
  res.setHeader('RateLimit-Policy', '"default";q=1000000000;w=1');
  res.setHeader('RateLimit', '"default";r=999999999;t=0');
  next();
});
