// One flowgate Express app with a cluster-wide concurrency limit, in its own OS process, on the BUILT
// package (dist/cjs through the package's own exports). Configured by the JSON in FLOWGATE_CONCURRENCY_APP:
//   { store: ZooKeeperStoreOptions, concurrency: N, name }
// Limited routes (key from the x-key header, default 'shared'):
//   GET /work?ms=   admitted: waits ms, answers { start, end } (wall-clock ms, taken inside the permit)
//   GET /hold?id=   admitted: answers only when /release lets it go (or the client leaves)
// Unlimited routes: GET /stats (store figures, requests in flight, held ids, handler counts),
//   GET /release[?id=] (lets one or every held request finish).
// Prints one JSON line {"ready":true,"port":..} on stdout once listening. Exits on SIGTERM or when
// its stdin closes (so that it never outlives the test process).
'use strict';

const express = require('express');
const { ZooKeeperStore } = require('flowgate');
const { rateLimit } = require('flowgate/express');

const config = JSON.parse(process.env.FLOWGATE_CONCURRENCY_APP);
const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const store = new ZooKeeperStore(config.store);
const limit = rateLimit({ concurrency: config.concurrency, name: config.name, store, key: (req) => req.get('x-key') ?? 'shared' });
const holds = new Map();
const counts = { started: 0, finished: 0 };

const app = express();
app.get('/stats', (req, res) => {
  const key = typeof req.query.key === 'string' ? req.query.key : 'shared';
  res.json({ ...store.stats(), pid: process.pid, inFlight: limit.concurrencyLimiter.inFlight(key), holding: [...holds.keys()], ...counts });
});
app.get('/release', (req, res) => {
  for (const [id, done] of [...holds]) if (req.query.id === undefined || req.query.id === id) done();
  res.json({ released: true });
});
app.get('/work', limit, async (req, res) => {
  counts.started++;
  const start = wallNow();
  await sleep(Number(req.query.ms ?? 0));
  const end = wallNow();
  counts.finished++;
  res.json({ start, end, pid: process.pid });
});
app.get('/hold', limit, (req, res) => {
  const id = String(req.query.id);
  const done = () => {
    holds.delete(id);
    if (!res.writableEnded) res.json({ id });
  };
  holds.set(id, done);
  res.once('close', () => holds.delete(id));
});
app.use((error, req, res, next) => {
  process.stderr.write(`app error: ${error && error.stack ? error.stack : String(error)}\n`);
  res.status(500).json({ error: String(error) });
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: server.address().port, pid: process.pid })}\n`);
});
server.keepAliveTimeout = 60_000;

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3000).unref();
  server.close();
  server.closeAllConnections();
  await limit.concurrencyLimiter.close().catch(() => undefined);
  await store.close().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
