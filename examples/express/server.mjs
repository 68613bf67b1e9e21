// Runs the Express example on 127.0.0.1: 5 requests/s, burst 5, up to 10 waiting for 2 s; GET /metrics for Prometheus.

import { flowgateMetrics } from 'flowgate/metrics';
import { createApp } from './app.mjs';

const port = Number(process.env.PORT ?? 3000);
// The scraper is not rate-limited: skip its path.
const { app, limiter } = createApp({ rate: 5, interval: '1s', burst: 5, queue: { maxSize: 10, maxWait: '2s' }, skip: (req) => req.path === '/metrics' });
const metrics = flowgateMetrics().observe(limiter);
app.get('/metrics', async (req, res) => {
  res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
});
app.listen(port, '127.0.0.1', () => {
  console.log(`flowgate Express example on http://127.0.0.1:${port}/ (5 req/s, burst 5, queue 10 x 2 s); metrics on /metrics`);
});
