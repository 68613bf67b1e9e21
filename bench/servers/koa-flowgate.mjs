// Variant "koa-flowgate": the Koa hello-world app behind flowgate/koa (built package, memory store, limit far above the load).
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveKoaHello } from './koa-hello-app.mjs';

const { rateLimit } = loadFlowgate('flowgate/koa');
serveKoaHello(rateLimit({ rate: 1e9, interval: '1s' }));
