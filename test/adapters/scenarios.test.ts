// One table of scenarios, run against every adapter: Express, Koa 3, Koa 2, Nest on Express, Nest on Fastify.

import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore } from '../../src/memory-store.js';
import type { LimiterEventName, LimiterEvents } from '../../src/limiter-events.js';
import type { Limiter } from '../../src/limiter.js';
import type { AppFactory, HelloBody, PortableLimit, RunningApp } from './apps/app-factory.js';
import { expressApp } from './apps/express.js';
import { koa2App, koaApp } from './apps/koa.js';
import { nestExpressApp } from './apps/nest-express.js';
import { nestFastifyApp } from './apps/nest-fastify.js';
import { get, open, type Answer, type OpenRequest } from './http-client.js';
import { waitFor } from '../helpers/wait.js';

const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
const PROBLEM_JSON = /^application\/problem\+json\b/;

const ADAPTERS: Array<[string, AppFactory]> = [
  ['Express', expressApp],
  ['Koa 3', koaApp],
  ['Koa 2', koa2App],
  ['Nest on Express', nestExpressApp],
  ['Nest on Fastify', nestFastifyApp],
];

/** Starts apps of one adapter for a scenario; every app started is stopped after the scenario. */
type Start = (limit: PortableLimit) => Promise<RunningApp>;

interface Scenario {
  readonly name: string;
  run(start: Start): Promise<void>;
}

/** The next `event` of the limiter; fails after 5 s rather than at the test timeout. */
function next<E extends LimiterEventName>(limiter: Limiter, event: E): Promise<LimiterEvents[E]> {
  return once(limiter, event, { signal: AbortSignal.timeout(5000) }).then(([payload]) => payload as LimiterEvents[E]);
}

function hello(answer: Answer): HelloBody {
  return answer.json<HelloBody>();
}

/** An app whose bucket is empty and whose only queue place is taken by `waiting` (served in ~500 ms). */
async function queueFull(start: Start): Promise<{ app: RunningApp; waiting: OpenRequest; key: string }> {
  const app = await start({ rate: 2, interval: '1s', burst: 1, queue: { maxSize: 1, maxWait: '2s' } });
  expect((await get(app.url)).status).toBe(200);
  const enqueued = next(app.limiter, 'enqueue');
  const waiting = open(app.url);
  const { key } = await enqueued;
  return { app, waiting, key };
}

/** The limit: 1 token, refilled every 10 s; the second request of a key is rejected. */
const ONE_PER_10S: PortableLimit = { rate: 1, interval: '10s', burst: 1 };

const SCENARIOS: Scenario[] = [
  {
    name: 'admits a request with the RateLimit headers and exposes the decision to the route',
    async run(start) {
      const app = await start({ rate: 2, interval: '1s', burst: 2 });
      const answer = await get(app.url);
      expect(answer.status).toBe(200);
      expect(answer.headers['ratelimit-policy']).toBe('"default";q=2;w=1');
      expect(answer.headers.ratelimit).toBe('"default";r=1;t=1');
      expect(answer.headers['retry-after']).toBeUndefined();
      expect(hello(answer)).toEqual({ allowed: true, waitedMs: 0 });
    },
  },
  {
    name: 'an error thrown by the route is answered 500 with the RateLimit headers too (its token stays spent)',
    async run(start) {
      const app = await start({ rate: 2, interval: '10s', burst: 2 });
      // Koa's error answer removes every header before it answers: the adapter hands the fields over.
      const boom = await get(app.url.replace(/\/hello$/, '/boom'));
      expect(boom.status).toBe(500);
      expect(boom.headers['ratelimit-policy']).toBe('"default";q=2;w=10');
      expect(boom.headers.ratelimit).toMatch(/^"default";r=1;t=\d+$/);
      expect((await get(app.url)).headers.ratelimit).toMatch(/^"default";r=0;t=\d+$/);
    },
  },
  {
    name: 'rejects over the limit with 429, Retry-After, the RateLimit headers and a problem+json body',
    async run(start) {
      const app = await start(ONE_PER_10S);
      expect((await get(app.url)).status).toBe(200);
      const answer = await get(app.url);
      expect(answer.status).toBe(429);
      expect(answer.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(9);
      expect(Number(answer.headers['retry-after'])).toBeLessThanOrEqual(10);
      expect(answer.headers['ratelimit-policy']).toBe('"default";q=1;w=10');
      expect(answer.headers.ratelimit).toMatch(/^"default";r=0;t=(9|10)$/);
      expect(answer.json()).toMatchObject({ type: QUOTA_EXCEEDED, status: 429, 'violated-policies': ['default'] });
    },
  },
  {
    name: 'queues requests over the limit and serves them in turn',
    async run(start) {
      const app = await start({ rate: 5, interval: '1s', burst: 1, queue: { maxSize: 5, maxWait: '2s' } });
      const dequeued: number[] = [];
      app.limiter.on('dequeue', (e) => dequeued.push(e.waitedMs));
      const answers = await Promise.all([get(app.url), get(app.url), get(app.url)]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      const waited = answers.map((a) => hello(a).waitedMs ?? -1).sort((a, b) => a - b);
      expect(waited[0]).toBe(0);
      expect(waited[1]).toBeGreaterThan(0);
      expect(waited[2]).toBeGreaterThan(waited[1] as number);
      expect(dequeued).toHaveLength(2);
      for (const answer of answers) expect(answer.headers.ratelimit).toMatch(/^"default";r=0;t=\d+$/);
    },
  },
  {
    name: 'priority(req): a later high-priority request in the queue is served before earlier low-priority ones',
    async run(start) {
      // 4/s: low-2 is due 500 ms after the first take, and the high one must have joined by then (its
      // four requests took up to 83 ms under load; at 10/s low-2 was due after 200 ms).
      const app = await start({ rate: 4, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '5s' }, priority: (req) => Number(req.header('x-priority') ?? 0) });
      expect((await get(app.url)).status).toBe(200);
      const order: string[] = [];
      const send = (label: string, priority: number): Promise<void> => get(app.url, { 'x-priority': String(priority) }).then((a) => void order.push(`${label}:${a.status}`));
      const lows: Array<Promise<void>> = [];
      for (const label of ['low-1', 'low-2', 'low-3']) {
        const enqueued = next(app.limiter, 'enqueue');
        lows.push(send(label, 0));
        await enqueued;
      }
      const enqueued = next(app.limiter, 'enqueue');
      const high = send('high', 5);
      await enqueued;
      await Promise.all([...lows, high]);
      // The head of the line (low-1, served next) keeps its place; the high one goes right after it.
      expect(order).toEqual(['low-1:200', 'high:200', 'low-2:200', 'low-3:200']);
    },
  },
  {
    name: 'rejects a request when the queue is full, without waiting',
    async run(start) {
      const { app, waiting } = await queueFull(start);
      const rejected = next(app.limiter, 'reject');
      const full = await get(app.url);
      expect(full.status).toBe(429);
      expect(full.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await rejected).reason).toBe('queue-full');
      const served = await waiting.answer;
      expect(served.status).toBe(200);
      expect(hello(served).waitedMs).toBeGreaterThan(0);
    },
  },
  {
    name: 'rejects at once, with Retry-After, a request that cannot be served within maxWait',
    async run(start) {
      const app = await start({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 5, maxWait: '200ms' } });
      const events: string[] = [];
      for (const event of ['enqueue', 'timeout'] as const) app.limiter.on(event, () => events.push(event));
      expect((await get(app.url)).status).toBe(200);
      const rejected = next(app.limiter, 'reject');
      const answer = await get(app.url);
      expect(answer.status).toBe(429);
      expect(answer.headers['retry-after']).toBe('1');
      expect((await rejected).reason).toBe('limited');
      expect(events).toEqual([]);
    },
  },
  {
    name: 'frees the place in the queue of a client that disconnects while it waits',
    async run(start) {
      const { app, waiting, key } = await queueFull(start);
      waiting.answer.catch(() => undefined);
      const aborted = next(app.limiter, 'abort');
      waiting.cut();
      expect((await aborted).key).toBe(key);
      expect((await app.limiter.peek(key)).queued).toBe(0);
      // The place is free again: this request waits in it instead of finding the queue full.
      const answer = await get(app.url);
      expect(answer.status).toBe(200);
      expect(hello(answer).waitedMs).toBeGreaterThan(0);
    },
  },
  {
    name: 'lets skipped requests through without touching the limit',
    async run(start) {
      const app = await start({ ...ONE_PER_10S, skip: (req) => req.header('x-skip') === '1' });
      for (let i = 0; i < 3; i++) {
        const skipped = await get(app.url, { 'x-skip': '1' });
        expect(skipped.status).toBe(200);
        expect(skipped.headers.ratelimit).toBeUndefined();
        expect(hello(skipped).allowed).toBeNull();
      }
      const counted = await get(app.url);
      expect(counted.status).toBe(200);
      expect(counted.headers.ratelimit).toBe('"default";r=0;t=10');
      expect((await get(app.url)).status).toBe(429);
    },
  },
  {
    name: 'keeps one bucket per custom key',
    async run(start) {
      const app = await start({ ...ONE_PER_10S, key: (req) => `user:${req.header('x-user') ?? 'anonymous'}` });
      const admitted = next(app.limiter, 'admit');
      expect((await get(app.url, { 'x-user': 'alice' })).status).toBe(200);
      expect((await admitted).key).toBe('user:alice');
      expect((await get(app.url, { 'x-user': 'alice' })).status).toBe(429);
      expect((await get(app.url, { 'x-user': 'bob' })).status).toBe(200);
    },
  },
  {
    name: 'charges the cost of each request',
    async run(start) {
      const app = await start({ rate: 1, interval: '10s', burst: 3, cost: (req) => Number(req.header('x-cost') ?? 1) });
      const first = await get(app.url, { 'x-cost': '2' });
      expect(first.status).toBe(200);
      expect(first.headers.ratelimit).toMatch(/^"default";r=1;/);
      expect((await get(app.url, { 'x-cost': '2' })).status).toBe(429);
      const last = await get(app.url);
      expect(last.status).toBe(200);
      expect(last.headers.ratelimit).toMatch(/^"default";r=0;/);
    },
  },
  {
    name: 'awaits an async key function',
    async run(start) {
      const app = await start({
        ...ONE_PER_10S,
        key: async (req) => {
          await sleep(5);
          return `tenant:${req.header('x-tenant') ?? 'none'}`;
        },
      });
      expect((await get(app.url, { 'x-tenant': 'a' })).status).toBe(200);
      expect((await get(app.url, { 'x-tenant': 'a' })).status).toBe(429);
      expect((await get(app.url, { 'x-tenant': 'b' })).status).toBe(200);
    },
  },
  {
    name: "sends a throwing key function's error down the framework's error path",
    async run(start) {
      const app = await start({
        ...ONE_PER_10S,
        key: () => {
          throw new Error('no key for this request');
        },
      });
      const takes: unknown[] = [];
      app.limiter.on('admit', (e) => takes.push(e));
      app.limiter.on('reject', (e) => takes.push(e));
      const answer = await get(app.url);
      expect(answer.status).toBe(500);
      expect(answer.headers.ratelimit).toBeUndefined();
      expect(takes).toEqual([]);
    },
  },
  {
    name: 'async key and cost functions that both fail: the error takes the framework error path, and no rejection goes unhandled',
    async run(start) {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const app = await start({
          ...ONE_PER_10S,
          // The key fails after a while; the cost fails at once, before anyone awaits it.
          key: async () => {
            await sleep(30);
            throw new Error('no key');
          },
          cost: () => Promise.reject(new Error('no cost')),
        });
        const answer = await get(app.url);
        expect(answer.status).toBe(500);
        await sleep(50);
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    },
  },
  {
    name: 'a client that leaves before its take starts (during an async key) never takes a place in the queue',
    async run(start) {
      const app = await start({
        rate: 1,
        interval: '10s',
        burst: 1,
        queue: { maxSize: 5, maxWait: '20s' },
        key: async () => {
          await sleep(150);
          return 'k';
        },
      });
      expect((await get(app.url)).status).toBe(200);
      const events: string[] = [];
      app.limiter.on('enqueue', () => events.push('enqueue'));
      const rejected = next(app.limiter, 'reject');
      const leaving = open(app.url);
      leaving.answer.catch(() => undefined);
      await sleep(40);
      leaving.cut();
      expect((await rejected).reason).toBe('aborted');
      expect(events).toEqual([]);
      expect((await app.limiter.peek('k')).queued).toBe(0);
    },
  },
  {
    name: 'shares one limit between two app instances through one store',
    async run(start) {
      const store = new MemoryStore();
      const first = await start({ rate: 1, interval: '10s', burst: 2, store });
      const second = await start({ rate: 1, interval: '10s', burst: 2, store });
      expect((await get(first.url)).status).toBe(200);
      expect((await get(second.url)).status).toBe(200);
      expect((await get(first.url)).status).toBe(429);
      expect((await get(second.url)).status).toBe(429);
    },
  },
  {
    name: 'skipFailedRequests: a request answered with an error gives its token back once the response is over; a success keeps it spent',
    async run(start) {
      const app = await start({ rate: 1, interval: '10s', burst: 2, skipFailedRequests: true });
      const boom = app.url.replace(/\/hello$/, '/boom');
      const admitted = next(app.limiter, 'admit');
      // Three errors on a burst of 2: without the option the third would be refused. Each token is
      // waited for (it comes back as the response closes, which a client may outrun).
      expect((await get(boom)).status).toBe(500);
      const { key } = await admitted;
      const givenBack = (): Promise<number> => waitFor(async () => (await app.limiter.peek(key)).remaining === 2, 5_000, "the failed request's token given back");
      await givenBack();
      for (let i = 0; i < 2; i++) {
        expect((await get(boom)).status).toBe(500);
        await givenBack();
      }
      expect((await get(app.url)).status).toBe(200);
      expect((await get(app.url)).status).toBe(200);
      expect((await get(app.url)).status).toBe(429);
    },
  },
  {
    name: 'skipSuccessfulRequests with requestWasSuccessful(req, res): only the requests it calls failed count',
    async run(start) {
      // A login-like limit: only failed attempts count. Here "failed" is a 500, or a 200 the route marks bad.
      const app = await start({
        rate: 1,
        interval: '10s',
        burst: 2,
        skipSuccessfulRequests: true,
        requestWasSuccessful: async (req, res) => res.statusCode < 400 && req.header('x-outcome') !== 'bad',
      });
      const admitted = next(app.limiter, 'admit');
      expect((await get(app.url)).status).toBe(200);
      const { key } = await admitted;
      const givenBack = (): Promise<number> => waitFor(async () => (await app.limiter.peek(key)).remaining === 2, 5_000, "the successful request's token given back");
      await givenBack();
      // Four successes on a burst of 2, each given back.
      for (let i = 0; i < 3; i++) {
        expect((await get(app.url)).status).toBe(200);
        await givenBack();
      }
      expect((await get(app.url, { 'x-outcome': 'bad' })).status).toBe(200);
      expect((await get(app.url.replace(/\/hello$/, '/boom'))).status).toBe(500);
      await waitFor(async () => (await app.limiter.peek(key)).remaining === 0, 5_000, 'the two failures counted');
      expect((await get(app.url)).status).toBe(429);
    },
  },
];

describe.each(ADAPTERS)('%s', (_adapter, factory) => {
  const running: RunningApp[] = [];
  const start: Start = async (limit) => {
    const app = await factory(limit);
    running.push(app);
    return app;
  };

  afterEach(async () => {
    await Promise.all(running.splice(0).map((app) => app.close()));
  });

  test.each(SCENARIOS.map((scenario) => [scenario.name, scenario] as const))('%s', async (_name, scenario) => {
    await scenario.run(start);
  });
});
