// The rate limiter of each cluster-bench variant as Express middleware: none, flowgate + ZooKeeperStore, express-rate-limit + rate-limit-redis, rate-limiter-flexible + Redis.
import { loadFlowgate } from '../flowgate-under-test.mjs';

/** Variant names, as used in results. */
export const VARIANTS = {
  bare: { label: 'no limiter (bare)', coordinator: undefined },
  flowgate: { label: 'flowgate + ZooKeeperStore', coordinator: 'zookeeper' },
  'flowgate-lease-2s': { label: "flowgate + ZooKeeperStore, maxLeaseWindow '2s'", coordinator: 'zookeeper' },
  'floor-headers': { label: 'reference: a middleware setting 2 constant RateLimit headers, no limiter (BENCH_FLOORS=1)', coordinator: undefined },
  'flowgate-memory': { label: 'reference: flowgate + MemoryStore (a limit per process, nothing shared)', coordinator: undefined },
  'erl-redis': { label: 'express-rate-limit + rate-limit-redis', coordinator: 'redis' },
  'rlf-redis': { label: 'rate-limiter-flexible RateLimiterRedis', coordinator: 'redis' },
};

/**
 * Builds the variant's limiter for one app process from `config`
 * (`{ variant, connect, root, redisPort, name, rate, intervalMs, burst, queue? }`) and resolves
 * with `{ middleware, stats(), close() }` once its store is connected. `middleware` is undefined for
 * `bare`. Every variant keys requests by client IP (one key here: all load comes from 127.0.0.1).
 */
export async function buildLimiter(config) {
  switch (config.variant) {
    case 'bare':
      return { middleware: undefined, stats: () => ({}), close: async () => undefined };
    case 'flowgate':
      return flowgate(config);
    case 'flowgate-lease-2s':
      return flowgate(config, { maxLeaseWindow: '2s' });
    case 'flowgate-memory':
      return flowgateMemory(config);
    case 'floor-headers':
      return floorHeaders();
    case 'erl-redis':
      return expressRateLimitRedis(config);
    case 'rlf-redis':
      return rateLimiterFlexibleRedis(config);
    default:
      throw new Error(`unknown variant ${config.variant}`);
  }
}

async function flowgate(config, storeOptions = {}) {
  const { ZooKeeperStore } = loadFlowgate('flowgate');
  const { rateLimit } = loadFlowgate('flowgate/express');
  const store = new ZooKeeperStore({ connect: config.connect, root: config.root, ...storeOptions });
  await store.ready(20_000);
  const events = { enqueue: 0, dequeue: 0, reject: 0 };
  // Queue scenarios: time each reservation call (one compare-and-set for a batch of waiters) by
  // wrapping the store's public reserve method; the store itself is untouched.
  const reserveCalls = [];
  if (config.queue && typeof store.reserve === 'function') {
    const reserve = store.reserve.bind(store);
    store.reserve = async (policy, key, asks, maxSize) => {
      const started = performance.now();
      try {
        return await reserve(policy, key, asks, maxSize);
      } finally {
        // serverAhead: this process's estimate of ZooKeeper's clock minus its own wall clock (the store's
        // internal ServerClock, read for this diagnostic only): across apps, how far their estimates disagree.
        const serverAhead = store.serverClock?.now() - (performance.timeOrigin + performance.now());
        reserveCalls.push({ ms: performance.now() - started, batch: asks.length, at: Date.now(), serverAhead });
      }
    };
  }
  const middleware = rateLimit({
    // Queue scenarios warm each app up on a key of its own first (see overflow-queue.mjs): JIT, session, code paths.
    ...(config.queue && { key: (req) => (req.query.warm === undefined ? req.ip : `warm-up-${process.pid}`) }),
    rate: config.rate,
    interval: config.intervalMs,
    burst: config.burst,
    name: config.name,
    store,
    ...(config.queue && {
      queue: {
        maxSize: config.queue.maxSize,
        maxWait: config.queue.maxWaitMs,
        ...(config.queue.batchWindowMs !== undefined && { batchWindow: config.queue.batchWindowMs }),
        ...(config.queue.orderGraceMs !== undefined && { orderGrace: config.queue.orderGraceMs }),
      },
    }),
  });
  if (config.queue) for (const event of Object.keys(events)) middleware.limiter.on(event, () => events[event]++);
  return {
    middleware,
    stats: () => ({ ...store.stats(), events, reserveCalls }),
    close: async () => {
      await middleware.limiter.close();
      await store.close();
    },
  };
}

/** The floor of any limiter that sends the RateLimit headers: two constant headers of flowgate's size, nothing decided. */
function floorHeaders() {
  const middleware = (req, res, next) => {
    res.setHeader('RateLimit-Policy', '"default";q=1000000000;w=1');
    res.setHeader('RateLimit', '"default";r=999999999;t=0');
    next();
  };
  return { middleware, stats: () => ({}), close: async () => undefined };
}

/** The same middleware on each process's own MemoryStore: what the adapter costs, apart from sharing the limit. */
async function flowgateMemory(config) {
  const { rateLimit } = loadFlowgate('flowgate/express');
  const middleware = rateLimit({ rate: config.rate, interval: config.intervalMs, burst: config.burst, name: config.name });
  return { middleware, stats: () => ({}), close: async () => middleware.limiter.close() };
}

async function redisClient(port) {
  const { Redis } = await import('ioredis');
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 2 });
  await client.connect();
  return client;
}

async function expressRateLimitRedis(config) {
  const { rateLimit } = await import('express-rate-limit');
  const { RedisStore } = await import('rate-limit-redis');
  const client = await redisClient(config.redisPort);
  const middleware = rateLimit({
    windowMs: config.intervalMs,
    limit: config.rate,
    // The same header work flowgate does: draft-8 RateLimit/RateLimit-Policy, no legacy X- headers.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    store: new RedisStore({ sendCommand: (command, ...args) => client.call(command, ...args), prefix: `${config.name}:` }),
  });
  return { middleware, stats: () => ({}), close: async () => void client.disconnect() };
}

async function rateLimiterFlexibleRedis(config) {
  const { RateLimiterRedis } = await import('rate-limiter-flexible');
  const client = await redisClient(config.redisPort);
  const limiter = new RateLimiterRedis({ storeClient: client, points: config.rate, duration: config.intervalMs / 1000, keyPrefix: config.name });
  // The middleware of rate-limiter-flexible's Express example: consume 1 point per request, 429 when out.
  const middleware = (req, res, next) => {
    limiter.consume(req.ip).then(
      () => next(),
      (rejection) => {
        if (rejection instanceof Error) return next(rejection);
        res.set('Retry-After', String(Math.ceil(rejection.msBeforeNext / 1000)));
        res.status(429).send('Too Many Requests');
      },
    );
  };
  return { middleware, stats: () => ({}), close: async () => void client.disconnect() };
}
