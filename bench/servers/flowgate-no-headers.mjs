// Reference variant "flowgate-no-headers" (BENCH_FLOORS=1): the "flowgate" variant with `headers: false`, to show the limiter's cost apart from the two RateLimit headers.
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveHello } from './hello-app.mjs';

const { rateLimit } = loadFlowgate('flowgate/express');
serveHello(rateLimit({ rate: 1e9, interval: '1s', headers: false }));
