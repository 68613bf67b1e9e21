// Variant "express-rate-limit": the hello-world app behind express-rate-limit (memory store, limit far above the load).
import { rateLimit } from 'express-rate-limit';
import { serveHello } from './hello-app.mjs';

// draft-8 `RateLimit`/`RateLimit-Policy` headers and no legacy X- headers: the same header work flowgate does.
serveHello(rateLimit({ windowMs: 1000, limit: 1e9, standardHeaders: 'draft-8', legacyHeaders: false }));
