// Runs the Express example on 127.0.0.1: 5 requests/s, burst 5, up to 10 waiting for 2 s; GET /metrics for Prometheus.
// FLOWGATE_ZK=host:port[,host:port] shares the limit through ZooKeeper; without it, the embedded store.

import { ZooKeeperStore } from 'flowgate';
import { flowgateMetrics } from 'flowgate/metrics';
import { createApp } from './app.mjs';

const port = Number(process.env.PORT ?? 3000);
const zk = process.env.FLOWGATE_ZK;
const store = zk ? new ZooKeeperStore({ connect: zk, root: '/flowgate-examples' }) : undefined;
const metrics = flowgateMetrics();
if (store) metrics.observeStore(store);
if (store) await store.ready(10_000);

// The scraper is not rate-limited: skip its path.
const { app, limiter } = createApp({
  rate: 5,
  interval: '1s',
  burst: 5,
  queue: { maxSize: 10, maxWait: '2s' },
  name: 'express-example',
  skip: (req) => req.path === '/metrics',
  ...(store && { store }),
});
metrics.observe(limiter);
app.get('/metrics', async (req, res) => {
  res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
});
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`flowgate Express example on http://127.0.0.1:${port}/ (5 req/s, burst 5, queue 10 x 2 s, ${store ? `ZooKeeper at ${zk}` : 'embedded store'}); metrics on /metrics`);
});

// Ctrl-C: answer waiting requests, stop the server, then close the store.
process.once('SIGINT', async () => {
  await limiter.limiter.close();
  server.close();
  metrics.close();
  await store?.close();
});
