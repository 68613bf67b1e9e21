// Variant "flowgate": the hello-world app behind flowgate/express (built package, memory store, limit far above the load).
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveHello } from './hello-app.mjs';

const { rateLimit } = loadFlowgate('flowgate/express');
serveHello(rateLimit({ rate: 1e9, interval: '1s' }));
