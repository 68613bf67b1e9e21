// Variant "flowgate": the hello-world app behind flowgate/express (built package, memory store, limit far above the load).
import { rateLimit } from 'flowgate/express';
import { serveHello } from './hello-app.mjs';

serveHello(rateLimit({ rate: 1e9, interval: '1s' }));
