// One DistributedQueue client in its own OS process, on the BUILT package (require('flowgate')
// resolves to dist/cjs through the package's own exports), driven over IPC by the tests.
// Configured by the JSON in FLOWGATE_QUEUE_CHILD:
//   { connect, root, name, queue?: {maxAttempts, callTimeout, pollInterval, maxItemBytes}, store?: {...ZooKeeperStoreOptions} }
// With `store`, the queue shares a ZooKeeperStore made with those options (e.g. a short sessionTimeout);
// otherwise it opens its own session from `connect`.
//
// Items produced here are { producer, seq }. A consumer reports every delivery (handler start) as
// { p, s, id, attempt, at } in batched `deliveries` events. The ZooKeeper calls the queue makes are
// counted by an observing wrapper around its session's methods (nothing else is changed).
'use strict';

const { DistributedQueue, ZooKeeperStore } = require('flowgate');

const config = JSON.parse(process.env.FLOWGATE_QUEUE_CHILD);
const wall = () => performance.timeOrigin + performance.now();

const store = config.store ? new ZooKeeperStore({ connect: config.connect, root: config.root, ...config.store }) : undefined;
const queue = new DistributedQueue(store ? { store, name: config.name, ...(config.queue || {}) } : { connect: config.connect, root: config.root, name: config.name, ...(config.queue || {}) });

// Count the ZooKeeper calls of the queue's session (an observing wrapper).
const calls = {};
const queueCalls = {};
const listings = {};
const session = queue.session;
for (const method of ['create', 'getChildren', 'exists', 'getData', 'remove', 'transaction', 'mkdirp', 'setData']) {
  const original = session[method].bind(session);
  session[method] = (...args) => {
    calls[method] = (calls[method] || 0) + 1;
    // Calls on the queue's own znodes, apart from the store's background work (membership, janitor, probe).
    const target = method === 'transaction' ? args[0] && args[0][0] && args[0][0].path : args[0];
    if (String(target).includes('/queues/')) queueCalls[method] = (queueCalls[method] || 0) + 1;
    // Listings, by what was listed (the item list is long, the claims list short).
    if (method === 'getChildren') {
      const what = `getChildren:${String(args[0]).split('/').pop()}`;
      listings[what] = (listings[what] || 0) + 1;
    }
    return original(...args);
  };
}

// Connection state changes of the queue's session, reported to the test (for diagnosis).
session.on('state', (state) => process.send({ event: 'state', state, at: wall() }));

function errorInfo(error) {
  return { name: error && error.name, code: error && error.code, message: error && error.message ? error.message : String(error) };
}

let consumer;
let pendingDeliveries = [];
let flushTimer;
function flushDeliveries() {
  if (pendingDeliveries.length === 0) return;
  const list = pendingDeliveries;
  pendingDeliveries = [];
  process.send({ event: 'deliveries', list });
}

const commands = {
  async produce({ producer, count, inFlight = 1 }) {
    const ids = new Array(count);
    const errors = [];
    const start = wall();
    let next = 0;
    async function lane() {
      while (next < count) {
        const seq = next++;
        try {
          ids[seq] = await queue.enqueue({ producer, seq });
        } catch (error) {
          errors.push({ seq, ...errorInfo(error) });
        }
      }
    }
    await Promise.all(Array.from({ length: inFlight }, lane));
    return { ids, errors: errors.slice(0, 10), errorCount: errors.length, ms: wall() - start };
  },

  async consume({ concurrency = 1, blockOn, failTimes = {}, handlerMs = 0 }) {
    const key = (item) => `${item.producer}:${item.seq}`;
    const failures = new Map(); // "p:s" -> times failed so far
    flushTimer = setInterval(flushDeliveries, 50);
    consumer = queue.consume(
      async (item, info) => {
        pendingDeliveries.push({ p: item.producer, s: item.seq, id: info.id, firstId: info.firstId, attempt: info.attempt, at: wall() });
        if (blockOn && item.producer === blockOn.producer && item.seq === blockOn.seq) {
          flushDeliveries();
          process.send({ event: 'blocked', item, id: info.id });
          // Holds the item until this process dies, or throws after `throwAfterMs` (wall time, so a
          // process paused meanwhile throws as soon as it runs again).
          if (blockOn.throwAfterMs === undefined) await new Promise(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, blockOn.throwAfterMs));
          process.send({ event: 'throwing', item, id: info.id, at: wall() });
          throw new Error(`handler failure after holding ${key(item)}`);
        }
        const name = key(item);
        const limit = failTimes[name];
        if (limit !== undefined && (failures.get(name) || 0) < limit) {
          failures.set(name, (failures.get(name) || 0) + 1);
          throw new Error(`handler failure ${failures.get(name)} for ${name}`);
        }
        if (handlerMs > 0) await new Promise((resolve) => setTimeout(resolve, handlerMs));
      },
      { concurrency, onError: (error) => process.send({ event: 'consumerError', error: errorInfo(error), zkCode: error && error.code, at: wall() }) },
    );
    return true;
  },

  async stopConsume() {
    if (consumer) await consumer.stop();
    consumer = undefined;
    clearInterval(flushTimer);
    flushDeliveries();
    return true;
  },

  async enqueue({ item }) {
    try {
      return { id: await queue.enqueue(item) };
    } catch (error) {
      return { error: errorInfo(error) };
    }
  },

  /** Enqueues the items in order, one at a time, each with its priority: [{ item, priority }]. */
  async enqueueWith({ entries }) {
    try {
      for (const { item, priority } of entries) await queue.enqueue(item, priority === undefined ? undefined : { priority });
      return {};
    } catch (error) {
      return { error: errorInfo(error), isArgumentError: error && error.constructor && error.constructor.name === 'FlowgateArgumentError' };
    }
  },

  async enqueueBytes({ bytes }) {
    try {
      return { id: await queue.enqueue({ pad: 'x'.repeat(bytes) }) };
    } catch (error) {
      return { error: errorInfo(error), isArgumentError: error && error.constructor && error.constructor.name === 'FlowgateArgumentError' };
    }
  },

  // size(), with the calls it made on the queue's znodes (the store's own background calls, which
  // share the session, are left out).
  async size() {
    const before = { ...queueCalls };
    const size = await queue.size();
    const delta = {};
    for (const [k, v] of Object.entries(queueCalls)) if (v !== (before[k] || 0)) delta[k] = v - (before[k] || 0);
    return { size, calls: delta };
  },

  async peek() {
    return { item: (await queue.peek()) ?? null };
  },

  async tryDequeue() {
    return { item: (await queue.tryDequeue()) ?? null };
  },

  async dequeue({ timeout }) {
    const start = wall();
    try {
      const item = await queue.dequeue(timeout === undefined ? {} : { timeout });
      return { item, ms: wall() - start };
    } catch (error) {
      return { error: errorInfo(error), ms: wall() - start };
    }
  },

  // Loops dequeue({ timeout }). A dequeue that has not settled `hangAfterMs` after it started is
  // reported as hung and the loop ends (the call itself is left running).
  async dequeueMany({ count, timeout, gapMs = 0, hangAfterMs = 30_000 }) {
    const items = [];
    const errors = [];
    let slowest = 0;
    let hung;
    for (let i = 0; i < count; i++) {
      if (gapMs > 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      const start = wall();
      let timer;
      const guard = new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), hangAfterMs)));
      try {
        const outcome = await Promise.race([queue.dequeue({ timeout }).then((item) => ({ item })), guard]);
        if (outcome === 'hung') {
          hung = { index: i, afterMs: hangAfterMs, at: start };
          break;
        }
        items.push(outcome.item);
      } catch (error) {
        errors.push(errorInfo(error));
        // A timeout while servers are paused is fair; the loop ends only when the queue is empty.
        if (error && error.code === 'ERR_FLOWGATE_QUEUE_TIMEOUT' && (await queue.size().catch(() => 1)) === 0) break;
        if (errors.length > 200) break;
        i--;
      } finally {
        clearTimeout(timer);
        slowest = Math.max(slowest, wall() - start);
      }
    }
    return { items, errors: errors.slice(0, 10), errorCount: errors.length, slowestMs: slowest, hung: hung ?? null };
  },

  async drain({ max }) {
    const items = [];
    for (let i = 0; i < max; i++) {
      const item = await queue.tryDequeue();
      if (item === undefined) break;
      items.push(item);
    }
    return items;
  },

  async deadLetters() {
    return queue.deadLetters();
  },

  async sessionId() {
    return session.sessionId() ?? null;
  },

  // The client's connection state as node-zookeeper-client itself sees it (read-only, for diagnosis).
  async connection() {
    const client = session.client;
    const cm = client && client.connectionManager;
    return {
      session: session.state,
      client: client ? String(client.getState && client.getState()) : null,
      manager: cm ? { state: cm.state, socket: Boolean(cm.socket), destroyed: Boolean(cm.socket && cm.socket.destroyed), remotePort: cm.socket ? cm.socket.remotePort : null, connecting: Boolean(cm.socket && cm.socket.connecting), serverAttempts: cm.serverAttempts, nextServerIndex: cm.nextServerIndex, servers: cm.servers, pending: cm.pendingQueue ? cm.pendingQueue.length : null } : null,
    };
  },

  async calls() {
    return calls;
  },

  // What this process's queue and session are doing now (read-only, for a test that found a stall).
  async diagnose() {
    return {
      pid: process.pid,
      state: session.state,
      sessionId: session.sessionId() ?? null,
      errors: session.errors,
      operations: session.operations,
      listings,
      held: [...queue.held].slice(0, 20),
      heldCount: queue.held.size,
      watching: queue.listing.watching,
      changeWaiters: queue.listing.changeWaiters.size,
      snapshotLeft: queue.listing.left,
      connection: await commands.connection(),
      store: queue.store.stats(),
      sessionTimeout: session.client ? session.client.getSessionTimeout() : null,
    };
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

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3000).unref();
  queue
    .close()
    .then(() => store && store.close())
    .finally(() => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('disconnect', shutdown);

(store ? store.ready(20_000) : Promise.resolve())
  .then(() => process.send({ hello: true, pid: process.pid }))
  .catch((error) => {
    process.stderr.write(`not ready: ${error}\n`);
    process.exit(3);
  });
