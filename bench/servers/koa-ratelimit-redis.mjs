// Variant "koa-ratelimit-redis": koa-ratelimit's Redis driver (ioredis client) against the run's redis-server (BENCH_REDIS_PORT).
import { Redis } from 'ioredis';
import ratelimit from 'koa-ratelimit';
import { serveKoaHello } from './koa-hello-app.mjs';

const port = Number(process.env.BENCH_REDIS_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('koa-ratelimit-redis.mjs: BENCH_REDIS_PORT must name the redis-server port on 127.0.0.1');
  process.exit(2);
}
const db = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
await db.connect();
// A sliding log per ctx.ip (a sorted set, one entry per request within `duration` ms), X-RateLimit-* headers on.
serveKoaHello(ratelimit({ driver: 'redis', db, duration: 1000, max: 1e9 }));
