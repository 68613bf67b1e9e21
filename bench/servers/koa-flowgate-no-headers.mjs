// Reference variant "koa-flowgate-no-headers" (BENCH_FLOORS=1): the "koa-flowgate" variant with `headers: false`, to show the limiter's cost apart from the two RateLimit headers.
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveKoaHello } from './koa-hello-app.mjs';

const { rateLimit } = loadFlowgate('flowgate/koa');
serveKoaHello(rateLimit({ rate: 1e9, interval: '1s', headers: false }));
