// Variant "nest-bare": the Nest hello-world app with no rate limiter (the Nest baseline).
import { serveNestHello } from './nest-hello-app.mjs';

await serveNestHello();
