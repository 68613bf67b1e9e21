// Variant "flowgate-metrics": as "flowgate", with flowgate/metrics observing the limiter (prom-client, its global registry).
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveHello } from './hello-app.mjs';

const { rateLimit } = loadFlowgate('flowgate/express');
const { flowgateMetrics } = loadFlowgate('flowgate/metrics');
const limit = rateLimit({ rate: 1e9, interval: '1s' });
flowgateMetrics().observe(limit);
serveHello(limit);
