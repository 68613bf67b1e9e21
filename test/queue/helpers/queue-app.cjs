// One Express app in its own OS process, on the BUILT package (require('flowgate') resolves to
// dist/cjs through the package's own exports): rateLimit with the cluster-wide overflow queue on a
// real ZooKeeperStore. Configured by the JSON in FLOWGATE_QUEUE_CHILD:
//   { connect, root, name, rate, interval, burst, maxSize, maxWait, store?: {...}, tag?: boolean }
//
// GET /q?id=N   rate-limited; answers JSON with the request's arrival and admission times (wall clock,
//               sub-ms: performance.timeOrigin + performance.now(), comparable between processes of
//               one machine), this process's admission sequence number and req.rateLimit.waitedMs.
//               A rejection answers JSON with the reason (status and Retry-After set by flowgate).
// IPC: stats -> store.stats(), enqueue/dequeue counts, event-loop delay, the reservation log;
//      burst {n, key} -> n concurrent limiter.take(key) in this process (no HTTP), summarised.
//
// With `tag`, request N costs 1 + N * 1e-13 tokens: a tag far below flowgate's 1e-9 slack, by which
// the reservation log (an observing wrapper around store.reserve, which is otherwise untouched) maps
// each reservation outcome, and its due time on ZooKeeper's clock, to the request it belongs to.
'use strict';

const express = require('express');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { ZooKeeperStore } = require('flowgate');
const { rateLimit } = require('flowgate/express');

const TAG = 1e-13;
const config = JSON.parse(process.env.FLOWGATE_QUEUE_CHILD);
const wall = () => performance.timeOrigin + performance.now();
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();

const store = new ZooKeeperStore({ connect: config.connect, root: config.root, ...(config.store || {}) });
const storeEvents = [];
for (const name of ['degraded', 'recovered']) store.on(name, (payload) => storeEvents.push({ event: name, at: wall(), ...payload }));

// The reservation log: one entry per outcome, in the order the store returned them.
const reservations = [];
let reserveCalls = 0;
const reserve = store.reserve.bind(store);
store.reserve = async (policy, key, asks, maxSize) => {
  const sent = wall();
  reserveCalls++;
  const result = await reserve(policy, key, asks, maxSize);
  const at = wall();
  result.outcomes.forEach((outcome, i) => {
    reservations.push({
      id: config.tag ? Math.round((asks[i].cost - 1) / TAG) : null,
      granted: outcome.granted,
      waitMs: outcome.granted ? outcome.waitMs : null,
      due: outcome.granted ? outcome.due : null,
      book: outcome.ticket ? outcome.ticket.book : null,
      reason: outcome.granted ? null : outcome.reason,
      batch: asks.length,
      sent,
      at,
      // Diagnostics: this app's estimate of ZooKeeper's clock minus its wall clock when the call returned.
      serverAhead: store.serverClock ? store.serverClock.now() - at : null,
    });
  });
  return result;
};

const counts = { enqueued: 0, dequeued: 0, aborted: 0, admitted: 0, rejected: {} };
let admitSeq = 0;

const limit = rateLimit({
  rate: config.rate,
  interval: config.interval,
  burst: config.burst,
  name: config.name,
  queue: { maxSize: config.maxSize, maxWait: config.maxWait },
  store,
  key: () => 'one-key',
  cost: config.tag ? (req) => 1 + Number(req.query.id) * TAG : 1,
  handler: (req, res, next, decision) => {
    counts.rejected[decision.reason] = (counts.rejected[decision.reason] || 0) + 1;
    res.json({ id: Number(req.query.id), pid: process.pid, rejected: true, reason: decision.reason, retryAfterMs: decision.retryAfterMs, arrivedAt: req.arrivedAt, at: wall() });
  },
});
limit.limiter.on('enqueue', () => counts.enqueued++);
limit.limiter.on('dequeue', () => counts.dequeued++);
limit.limiter.on('abort', () => counts.aborted++);

const app = express();
app.get(
  '/q',
  (req, res, next) => {
    req.arrivedAt = wall();
    next();
  },
  limit,
  (req, res) => {
    const admittedAt = wall();
    counts.admitted++;
    res.json({ id: Number(req.query.id), pid: process.pid, arrivedAt: req.arrivedAt, admittedAt, seq: ++admitSeq, waitedMs: req.rateLimit.waitedMs });
  },
);
app.use((error, req, res, next) => {
  process.stderr.write(`app error: ${error && error.stack ? error.stack : String(error)}\n`);
  res.status(500).json({ error: String(error) });
});

const commands = {
  async stats() {
    return {
      ...store.stats(),
      pid: process.pid,
      counts,
      reserveCalls,
      loopDelayMaxMs: loop.max / 1e6,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      storeEvents,
    };
  },
  async reservations() {
    return reservations;
  },
  async resetLoopDelay() {
    loop.reset();
    return true;
  },
  async burst({ n, key }) {
    const start = wall();
    const results = await Promise.allSettled(Array.from({ length: n }, () => limit.limiter.take(key)));
    const out = { admitted: 0, waited: 0, maxWaitedMs: 0, rejected: {}, errors: [], ms: 0 };
    for (const r of results) {
      if (r.status === 'rejected') out.errors.push(String(r.reason));
      else if (r.value.allowed) {
        out.admitted++;
        if (r.value.waitedMs > 0) out.waited++;
        out.maxWaitedMs = Math.max(out.maxWaitedMs, r.value.waitedMs);
      } else out.rejected[r.value.reason] = (out.rejected[r.value.reason] || 0) + 1;
    }
    out.errors = out.errors.slice(0, 5);
    out.ms = wall() - start;
    return out;
  },
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    const result = await commands[cmd](args || {});
    process.send({ reply: id, ok: true, result });
  } catch (error) {
    process.send({ reply: id, ok: false, error: error && error.stack ? error.stack : String(error) });
  }
});

const server = app.listen(0, '127.0.0.1', async () => {
  try {
    await store.ready(20_000);
  } catch (error) {
    process.stderr.write(`store not ready: ${error}\n`);
    process.exit(3);
  }
  process.send({ hello: true, port: server.address().port, pid: process.pid });
});
server.keepAliveTimeout = 60_000;

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3000).unref();
  server.closeAllConnections();
  server.close();
  limit.limiter
    .close()
    .then(() => store.close())
    .finally(() => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('disconnect', shutdown);
