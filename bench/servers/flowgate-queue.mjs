// Variant "flowgate-queue": flowgate/express with the overflow queue configured (limit still far above the load).
import { rateLimit } from 'flowgate/express';
import { serveHello } from './hello-app.mjs';

serveHello(rateLimit({ rate: 1e9, interval: '1s', queue: { maxSize: 100, maxWait: '1s' } }));
