// Variant "koa-ratelimit": the Koa hello-world app behind koa-ratelimit's memory driver (limit far above the load).
import ratelimit from 'koa-ratelimit';
import { serveKoaHello } from './koa-hello-app.mjs';

// The memory driver needs its Map; `max` per `duration` (ms) per ctx.ip, X-RateLimit-* headers on.
serveKoaHello(ratelimit({ driver: 'memory', db: new Map(), duration: 1000, max: 1e9 }));
