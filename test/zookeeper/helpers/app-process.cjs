// One flowgate Express app in its own OS process, on the BUILT package (dist/cjs through the package's
// own exports), for the multi-process ZooKeeper tests. Configured by the JSON in FLOWGATE_TEST_APP:
//   { store: ZooKeeperStoreOptions, limiter: { rate, interval, burst, strict?, name? } }
// Routes: GET /hit (rate-limited; key from the x-key header), GET /stats (store figures, events and
// unavailability episodes), GET /burst?key=&n= (n concurrent limiter.take(key), for strict mode),
// GET /policy (the limiter's policy in force and its published version), GET /take?key=&priority= (one
// limiter.take with a priority, answered when decided: for the overflow-queue priority test).
// Prints one JSON line {"ready":true,"port":..} on stdout once listening. Exits on SIGTERM or when
// its stdin closes (so that it never outlives the test process).
'use strict';

const express = require('express');
const { ZooKeeperStore } = require('flowgate');
const { rateLimit } = require('flowgate/express');

const config = JSON.parse(process.env.FLOWGATE_TEST_APP);
const clock = () => performance.now();

const store = new ZooKeeperStore(config.store);
const events = [];
for (const name of ['degraded', 'recovered', 'members']) {
  store.on(name, (payload) => events.push({ event: name, at: clock(), ...payload }));
}

// Episodes during which decisions did not use ZooKeeper (after the first time it was available):
// the local fallback's allowance is computed from them. Sampled every 10 ms.
const episodes = [];
let everAvailable = false;
let open;
setInterval(() => {
  const { available, members } = store.stats();
  if (available) everAvailable = true;
  if (!available && everAvailable && open === undefined) {
    open = { start: clock(), end: undefined, members };
    episodes.push(open);
  } else if (available && open !== undefined) {
    open.end = clock();
    open = undefined;
  }
}, 10).unref();

const limit = rateLimit({
  ...config.limiter,
  store,
  key: (req) => req.get('x-key') ?? 'default-key',
});
const counts = { admitted: 0, limited: 0, unavailable: 0, other: 0 };
// Live policy changes as this process saw them.
limit.limiter.on('policy', (payload) => events.push({ event: 'policy', at: clock(), wall: Date.now(), ...payload }));

const app = express();
app.get('/stats', (req, res) => {
  res.json({
    ...store.stats(),
    pid: process.pid,
    now: clock(),
    wallClock: Date.now(),
    counts,
    events,
    episodes: episodes.map((e) => ({ ...e, end: e.end ?? clock(), open: e.end === undefined })),
  });
});
app.get('/policy', (req, res) => {
  const { rate, intervalMs, burst } = limit.limiter.policy;
  res.json({ rate, intervalMs, burst, version: limit.limiter.policyVersion ?? null, queueing: limit.limiter.queueing });
});
app.get('/take', async (req, res, next) => {
  try {
    const arrivedAt = Date.now();
    const decision = await limit.limiter.take(String(req.query.key), { priority: Number(req.query.priority ?? 0) });
    res.json({ allowed: decision.allowed, reason: decision.reason ?? null, waitedMs: decision.waitedMs, arrivedAt, admittedAt: Date.now(), pid: process.pid });
  } catch (error) {
    next(error);
  }
});
app.get('/burst', async (req, res, next) => {
  try {
    const n = Number(req.query.n);
    const key = String(req.query.key);
    const start = clock();
    const results = await Promise.allSettled(Array.from({ length: n }, () => limit.limiter.take(key)));
    const out = { admitted: 0, rejected: {}, errors: [], ms: 0 };
    for (const r of results) {
      if (r.status === 'rejected') out.errors.push(String(r.reason));
      else if (r.value.allowed) out.admitted++;
      else out.rejected[r.value.reason] = (out.rejected[r.value.reason] ?? 0) + 1;
    }
    out.ms = clock() - start;
    res.json(out);
  } catch (error) {
    next(error);
  }
});
app.get('/hit', limit, (req, res) => {
  res.type('text/plain').send('ok');
});
app.use((error, req, res, next) => {
  process.stderr.write(`app error: ${error && error.stack ? error.stack : String(error)}\n`);
  res.status(500).json({ error: String(error) });
});

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: server.address().port, pid: process.pid })}\n`);
});
server.keepAliveTimeout = 60_000;
server.on('request', (req, res) => {
  if (!req.url.startsWith('/hit')) return;
  res.on('finish', () => {
    const decision = req.rateLimit;
    if (decision === undefined) counts.other++;
    else if (decision.allowed) counts.admitted++;
    else if (decision.reason === 'unavailable') counts.unavailable++;
    else counts.limited++;
  });
});

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3000).unref();
  server.close();
  server.closeAllConnections();
  await store.close().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
