// One app process of the cluster example: Express + flowgate, sharing its limit and queue through ZooKeeper.

import express from 'express';
import { ZooKeeperStore } from 'flowgate';
import { rateLimit } from 'flowgate/express';

const store = new ZooKeeperStore({ connect: process.env.FLOWGATE_ZK, root: '/flowgate-example' });
await store.ready(10_000);
const app = express();
app.use(rateLimit({ rate: 20, interval: '1s', burst: 10, queue: { maxSize: 100, maxWait: '5s' }, store, name: 'cluster-example' }));
app.get('/', (req, res) => res.json({ worker: process.env.WORKER, waitedMs: Math.round(req.rateLimit.waitedMs) }));
const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', async (message) => {
  if (message !== 'stop') return;
  server.close();
  await store.close();
  process.exit(0);
});
