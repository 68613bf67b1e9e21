// Variant "flowgate-queue": flowgate/express with the overflow queue configured (limit still far above the load).
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveHello } from './hello-app.mjs';

const { rateLimit } = loadFlowgate('flowgate/express');
serveHello(rateLimit({ rate: 1e9, interval: '1s', queue: { maxSize: 100, maxWait: '1s' } }));
