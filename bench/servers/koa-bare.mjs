// Variant "koa-bare": the Koa hello-world app with no rate limiter (the Koa baseline).
import { serveKoaHello } from './koa-hello-app.mjs';

serveKoaHello();
