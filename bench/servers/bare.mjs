// Variant "bare": the hello-world app with no rate limiter (the baseline).
import { serveHello } from './hello-app.mjs';

serveHello();
