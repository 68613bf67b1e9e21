// The Express example app: one route limited by flowgate, with an overflow queue.

import express from 'express';
import { rateLimit } from 'flowgate/express';

/**
 * Builds the example app. `limit` holds flowgate's options; `store` (optional) shares the limit
 * with other processes, for example a ZooKeeper store.
 */
export function createApp(limit) {
  const app = express();
  const limiter = rateLimit(limit);
  app.use(limiter);
  app.get('/', (req, res) => {
    res.json({ hello: 'world', waitedMs: Math.round(req.rateLimit.waitedMs) });
  });
  return { app, limiter };
}
