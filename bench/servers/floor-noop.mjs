// Reference variant "floor-noop" (BENCH_FLOORS=1): a pass-through Express middleware, the floor of any middleware.
import { serveHello } from './hello-app.mjs';

serveHello((req, res, next) => next());
