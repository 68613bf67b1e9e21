// flowgate/express against real Express 5 apps through supertest: headers, rejections, options,
// keys, cost, the overflow queue, the default IP key, and validation at construction time.

import { once } from 'node:events';
import http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { rateLimit, type ExpressRateLimitMiddleware, type ExpressRateLimitOptions } from '../../adapters/express/index.js';
import { ipKey } from '../../src/http/ip-key.js';
import { createLimiter, FlowgateConfigError, MemoryStore, type Clock, type Decision, type LimiterEvents } from '../../src/index.js';

const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
const TEMPORARY_REDUCED_CAPACITY = 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity';

/** A clock that only moves when told to: makes every header figure exact. */
function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

interface Harness {
  readonly mw: ExpressRateLimitMiddleware;
  readonly server: http.Server;
  /** `req.rateLimit` of every answered request, in the order the answers were sent. */
  readonly decisions: Array<Decision | undefined>;
  get(path?: string): request.Test;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * An Express app with the middleware on every route, a `/` route that answers 200 with a JSON body,
 * and an error middleware answering 500 with the error message. The server listens on 127.0.0.1.
 */
async function harness(options: ExpressRateLimitOptions, setup: (app: express.Express) => void = () => undefined): Promise<Harness> {
  const mw = rateLimit(options);
  const decisions: Array<Decision | undefined> = [];
  const app = express();
  setup(app);
  // Records req.rateLimit just before a response is ended: deterministic, unlike 'finish'.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const end = res.end;
    res.end = function (this: Response, ...args: unknown[]) {
      decisions.push(req.rateLimit);
      return (end as (...a: unknown[]) => Response).apply(this, args);
    } as Response['end'];
    next();
  });
  app.use(mw);
  app.get('/', (req, res) => {
    res.json({ ok: true, waitedMs: req.rateLimit?.waitedMs });
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  const server = await listen(app, mw);
  return { mw, server, decisions, get: (path = '/') => request(server).get(path) };
}

/** Serves `app` on 127.0.0.1; after the test, closes `mw`'s limiter and the server. */
async function listen(app: express.Express, mw: ExpressRateLimitMiddleware): Promise<http.Server> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await mw.limiter.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return server;
}

/** Sends a supertest request now (a Test is lazy) and gives a promise of its response. */
function send(test: request.Test): Promise<request.Response> {
  return new Promise((resolve, reject) => test.end((err, res) => (err ? reject(err) : resolve(res))));
}

function nextEvent<E extends keyof LimiterEvents>(mw: ExpressRateLimitMiddleware, event: E): Promise<LimiterEvents[E]> {
  return once(mw.limiter, event).then(([payload]) => payload as LimiterEvents[E]);
}

describe('RateLimit headers', () => {
  test('draft-8 is the default: RateLimit-Policy "<name>";q=<burst>;w=<s> and RateLimit "<name>";r=<remaining>;t=<s>', async () => {
    const h = await harness({ rate: 10, interval: '1s', burst: 10, clock: manualClock() });
    const first = await h.get().expect(200);
    expect(first.headers['ratelimit-policy']).toBe('"default";q=10;w=1');
    expect(first.headers['ratelimit']).toBe('"default";r=9;t=1');
    const second = await h.get().expect(200);
    expect(second.headers['ratelimit']).toBe('"default";r=8;t=1');
    expect(second.headers['retry-after']).toBeUndefined();
  });

  test('the limiter name is the policy name', async () => {
    const h = await harness({ rate: 5, burst: 5, name: 'search' });
    const res = await h.get().expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"search";q=5;w=1');
    expect(res.headers['ratelimit']).toBe('"search";r=4;t=1');
  });

  // w = ceil(burst / rate * interval in seconds), at least 1: exact figures, computed with integers.
  test.each([
    { rate: 10, interval: '1s', burst: 10, w: 1 },
    { rate: 10, interval: '1s', burst: 20, w: 2 },
    { rate: 2, interval: '1s', burst: 5, w: 3 },
    { rate: 100, interval: '1s', burst: 1, w: 1 },
    { rate: 10, interval: '1m', burst: 10, w: 60 },
    { rate: 1, interval: '1h', burst: 1, w: 3600 },
    { rate: 9, interval: '1s', burst: 9, w: 1 },
    { rate: 11, interval: '1s', burst: 11, w: 1 },
    { rate: 9, interval: '1s', burst: 18, w: 2 },
    { rate: 36, interval: '1s', burst: 36, w: 1 },
  ])('RateLimit-Policy w for rate $rate per $interval, burst $burst is $w', async ({ rate, interval, burst, w }) => {
    const h = await harness({ rate, interval, burst });
    const res = await h.get().expect(200);
    expect(res.headers['ratelimit-policy']).toBe(`"default";q=${burst};w=${w}`);
  });

  test('t is the seconds until the bucket is full, rounded up (manual clock)', async () => {
    const clock = manualClock();
    const h = await harness({ rate: 1, interval: '1s', burst: 5, clock });
    for (let i = 0; i < 5; i++) await h.get().expect(200);
    // Empty bucket; 1.5 s later it holds 1.5 tokens; taking one leaves 0.5: full in 4.5 s -> t=5.
    clock.advance(1500);
    const res = await h.get().expect(200);
    expect(res.headers['ratelimit']).toBe('"default";r=0;t=5');
  });

  test('t and Retry-After are exact for long windows (rate 1 per hour, manual clock)', async () => {
    const clock = manualClock();
    const h = await harness({ rate: 1, interval: '1h', burst: 1, clock });
    const first = await h.get().expect(200);
    const second = await h.get().expect(429);
    // The bucket is full again, and the next token due, in exactly 3600 s.
    expect({
      policy: first.headers['ratelimit-policy'],
      first: first.headers['ratelimit'],
      second: second.headers['ratelimit'],
      retryAfter: second.headers['retry-after'],
    }).toEqual({
      policy: '"default";q=1;w=3600',
      first: '"default";r=0;t=3600',
      second: '"default";r=0;t=3600',
      retryAfter: '3600',
    });
  });

  test("draft-7: RateLimit-Policy <burst>;w=<s> and RateLimit limit=, remaining=, reset=", async () => {
    const h = await harness({ rate: 10, burst: 20, headers: 'draft-7' });
    const res = await h.get().expect(200);
    expect(res.headers['ratelimit-policy']).toBe('20;w=2');
    expect(res.headers['ratelimit']).toBe('limit=20, remaining=19, reset=1');
  });

  test('draft-7 on a rejection', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, headers: 'draft-7' });
    await h.get().expect(200);
    const res = await h.get().expect(429);
    expect(res.headers['ratelimit-policy']).toBe('1;w=10');
    expect(res.headers['ratelimit']).toBe('limit=1, remaining=0, reset=10');
    expect(res.headers['retry-after']).toBe('10');
  });

  test('headers: false sends no RateLimit fields, on allowed or rejected responses', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, headers: false });
    const ok = await h.get().expect(200);
    expect(ok.headers['ratelimit']).toBeUndefined();
    expect(ok.headers['ratelimit-policy']).toBeUndefined();
    const rejected = await h.get().expect(429);
    expect(rejected.headers['ratelimit']).toBeUndefined();
    expect(rejected.headers['ratelimit-policy']).toBeUndefined();
  });

  test('headers are sent on rejected responses too', async () => {
    const h = await harness({ rate: 1, interval: '1s', burst: 1 });
    await h.get().expect(200);
    const res = await h.get().expect(429);
    expect(res.headers['ratelimit-policy']).toBe('"default";q=1;w=1');
    expect(res.headers['ratelimit']).toBe('"default";r=0;t=1');
  });

  test('policyName overrides the name in headers and in the problem body', async () => {
    const h = await harness({ rate: 1, interval: '1s', burst: 1, name: 'internal-name', policyName: 'public-api' });
    const ok = await h.get().expect(200);
    expect(ok.headers['ratelimit-policy']).toBe('"public-api";q=1;w=1');
    expect(ok.headers['ratelimit']).toBe('"public-api";r=0;t=1');
    const rejected = await h.get().expect(429);
    expect(rejected.headers['ratelimit']).toBe('"public-api";r=0;t=1');
    expect(JSON.parse(rejected.text)['violated-policies']).toEqual(['public-api']);
  });

  test('the policy name is a Structured Field string: quotes and backslashes escaped', async () => {
    const h = await harness({ rate: 1, burst: 1, policyName: 'a"b\\c' });
    const res = await h.get().expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"a\\"b\\\\c";q=1;w=1');
  });
});

describe('rejections', () => {
  test('429 with Retry-After in whole seconds and an application/problem+json body', async () => {
    const clock = manualClock();
    const h = await harness({ rate: 1, interval: '10s', burst: 1, clock });
    await h.get().expect(200);
    clock.advance(2500); // 0.25 token back: the next one is due in 7.5 s -> Retry-After 8
    const res = await h.get().expect(429);
    expect(res.headers['retry-after']).toBe('8');
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = JSON.parse(res.text);
    expect(body).toEqual({
      type: QUOTA_EXCEEDED,
      title: expect.any(String),
      status: 429,
      detail: expect.any(String),
      'violated-policies': ['default'],
    });
    expect(h.decisions[1]).toMatchObject({ allowed: false, reason: 'limited', retryAfterMs: 7500 });
  });

  test('Retry-After with the real clock is whole seconds, rounded up', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1 });
    await h.get().expect(200);
    const res = await h.get().expect(429);
    expect(res.headers['retry-after']).toBe('10');
  });

  test('custom statusCode', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, statusCode: 503 });
    await h.get().expect(200);
    const res = await h.get().expect(503);
    expect(res.headers['retry-after']).toBe('10');
    expect(res.headers['ratelimit']).toBe('"default";r=0;t=10');
    const body = JSON.parse(res.text);
    expect(body.status).toBe(503);
    expect(body.type).toBe(QUOTA_EXCEEDED);
  });

  test('message as a string is sent as text/plain', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, message: 'Slow down!' });
    await h.get().expect(200);
    const res = await h.get().expect(429);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe('Slow down!');
    expect(res.headers['retry-after']).toBe('10');
  });

  test('message as an object is sent as JSON', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, message: { error: 'too many', code: 42 } });
    await h.get().expect(200);
    const res = await h.get().expect(429);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'too many', code: 42 });
  });

  test('message as a function of (request, decision), sync and async', async () => {
    const sync = await harness({
      rate: 1,
      interval: '10s',
      burst: 1,
      message: (req: Request, decision: Decision) => ({ path: req.path, reason: decision.reason, retryIn: Math.ceil(decision.retryAfterMs / 1000) }),
    });
    await sync.get().expect(200);
    const res = await sync.get().expect(429);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ path: '/', reason: 'limited', retryIn: 10 });

    const asyncFn = await harness({
      rate: 1,
      interval: '10s',
      burst: 1,
      message: async (_req: Request, decision: Decision) => `over the limit of ${decision.limit}`,
    });
    await asyncFn.get().expect(200);
    const res2 = await asyncFn.get().expect(429);
    expect(res2.headers['content-type']).toMatch(/^text\/plain/);
    expect(res2.text).toBe('over the limit of 1');
  });

  test('handler answers a rejection: status and headers already set, decision passed', async () => {
    const seen: Decision[] = [];
    const h = await harness({
      rate: 1,
      interval: '10s',
      burst: 1,
      handler: (req, res, _next, decision) => {
        seen.push(decision);
        expect(req.rateLimit).toBe(decision);
        res.json({ custom: true, status: res.statusCode, reason: decision.reason });
      },
    });
    await h.get().expect(200);
    const res = await h.get().expect(429);
    expect(res.body).toEqual({ custom: true, status: 429, reason: 'limited' });
    expect(res.headers['retry-after']).toBe('10');
    expect(res.headers['ratelimit']).toBe('"default";r=0;t=10');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ allowed: false, key: '127.0.0.1' });
  });

  test('handler may change the status and is not called for allowed requests', async () => {
    const handler = jest.fn((_req: Request, res: Response) => {
      res.status(418).send('teapot');
    });
    const h = await harness({ rate: 1, interval: '10s', burst: 1, handler });
    await h.get().expect(200);
    expect(handler).not.toHaveBeenCalled();
    const res = await h.get().expect(418);
    expect(res.text).toBe('teapot');
    expect(handler).toHaveBeenCalledTimes(1);
  });

  test('a closed limiter answers 503 with temporary-reduced-capacity', async () => {
    const h = await harness({ rate: 10, burst: 10 });
    await h.mw.limiter.close();
    const res = await h.get().expect(503);
    expect(JSON.parse(res.text).type).toBe(TEMPORARY_REDUCED_CAPACITY);
    expect(h.decisions[0]?.reason).toBe('closed');
  });
});

describe('skip', () => {
  test.each([
    ['sync', (req: Request) => req.get('x-skip') === '1'],
    ['async', async (req: Request) => req.get('x-skip') === '1'],
  ])('%s skip lets requests pass without touching the limit', async (_kind, skip) => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, skip });
    for (let i = 0; i < 3; i++) {
      const res = await h.get().set('x-skip', '1').expect(200);
      expect(res.headers['ratelimit']).toBeUndefined();
    }
    expect(h.decisions).toEqual([undefined, undefined, undefined]);
    // The bucket is still full: one request passes, the next does not.
    const first = await h.get().expect(200);
    expect(first.headers['ratelimit']).toBe('"default";r=0;t=10');
    await h.get().expect(429);
    await h.get().set('x-skip', '1').expect(200);
  });
});

describe('keys', () => {
  test('a custom key (header based) gives each key its own bucket', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, key: (req) => req.get('x-api-key') ?? 'anonymous' });
    await h.get().set('x-api-key', 'alice').expect(200);
    await h.get().set('x-api-key', 'alice').expect(429);
    const bob = await h.get().set('x-api-key', 'bob').expect(200);
    expect(bob.headers['ratelimit']).toBe('"default";r=0;t=10');
    await h.get().set('x-api-key', 'bob').expect(429);
    expect(h.decisions.map((d) => d?.key)).toEqual(['alice', 'alice', 'bob', 'bob']);
  });

  test('an async key', async () => {
    const h = await harness({
      rate: 1,
      interval: '10s',
      burst: 1,
      key: async (req) => {
        await new Promise((resolve) => setImmediate(resolve));
        return `user:${req.get('x-user')}`;
      },
    });
    await h.get().set('x-user', '1').expect(200);
    await h.get().set('x-user', '2').expect(200);
    await h.get().set('x-user', '1').expect(429);
    expect(h.decisions.map((d) => d?.key)).toEqual(['user:1', 'user:2', 'user:1']);
  });

  test('a key function that answers a number (a user id, sync or async) uses its decimal string', async () => {
    const ids: Record<string, number> = { alice: 42, bob: 7 };
    const h = await harness({ rate: 1, interval: '10s', burst: 1, key: ((req: Request) => (req.get('x-user') === 'bob' ? Promise.resolve(ids.bob) : ids.alice)) as unknown as (req: Request) => string });
    await h.get().set('x-user', 'alice').expect(200);
    await h.get().set('x-user', 'alice').expect(429);
    await h.get().set('x-user', 'bob').expect(200);
    expect(h.decisions.map((d) => d?.key)).toEqual(['42', '42', '7']);
  });

  test.each([
    [
      'sync',
      () => {
        throw new Error('key lookup failed (sync)');
      },
      'key lookup failed (sync)',
    ],
    [
      'async',
      async () => {
        throw new Error('key lookup failed (async)');
      },
      'key lookup failed (async)',
    ],
  ])('a %s key that throws reaches the Express error handler', async (_kind, key, message) => {
    const h = await harness({ rate: 10, key: key as (req: Request) => string | Promise<string> });
    const res = await h.get().expect(500);
    expect(res.body).toEqual({ error: message });
    expect(res.headers['ratelimit']).toBeUndefined();
  });

  test('the default key is the client IP (IPv4-mapped IPv6 folded to IPv4)', async () => {
    const h = await harness({ rate: 10 });
    await h.get().expect(200);
    expect(h.decisions[0]?.key).toBe('127.0.0.1');
  });

  test("with 'trust proxy', X-Forwarded-For addresses get separate buckets", async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1 }, (app) => app.set('trust proxy', true));
    await h.get().set('X-Forwarded-For', '203.0.113.7').expect(200);
    await h.get().set('X-Forwarded-For', '203.0.113.7').expect(429);
    await h.get().set('X-Forwarded-For', '198.51.100.23').expect(200);
    // IPv6: one bucket per /56.
    await h.get().set('X-Forwarded-For', '2001:db8:abcd:1200::1').expect(200);
    await h.get().set('X-Forwarded-For', '2001:db8:abcd:12ff:ffff::2').expect(429);
    await h.get().set('X-Forwarded-For', '2001:db8:abcd:1300::1').expect(200);
    expect(h.decisions.map((d) => d?.key)).toEqual([
      '203.0.113.7',
      '203.0.113.7',
      '198.51.100.23',
      '2001:db8:abcd:1200::/56',
      '2001:db8:abcd:1200::/56',
      '2001:db8:abcd:1300::/56',
    ]);
  });
});

describe('ipKey', () => {
  test('IPv4 is kept as is', () => {
    expect(ipKey('1.2.3.4')).toBe('1.2.3.4');
    expect(ipKey('127.0.0.1')).toBe('127.0.0.1');
  });

  test('IPv4-mapped IPv6 becomes the IPv4 address', () => {
    expect(ipKey('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(ipKey('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(ipKey('::ffff:102:304')).toBe('1.2.3.4');
  });

  test('IPv6 addresses in the same /56 share a key; different /56 do not', () => {
    const a = ipKey('2001:db8:1234:5600::1');
    const b = ipKey('2001:db8:1234:56ff:ffff:ffff:ffff:ffff');
    const c = ipKey('2001:0db8:1234:5600:0000:0000:0000:abcd');
    expect(a).toBe(b);
    expect(a).toBe(c);
    expect(a).toBe('2001:db8:1234:5600::/56');
    expect(ipKey('2001:db8:1234:5700::1')).not.toBe(a);
    expect(ipKey('2001:db8:1235:5600::1')).not.toBe(a);
  });

  test('other subnet sizes, zone ids, and missing addresses', () => {
    expect(ipKey('2001:db8:1234:5678::1', 64)).toBe('2001:db8:1234:5678::/64');
    expect(ipKey('2001:db8::1', 128)).toBe('2001:db8::1');
    expect(ipKey('fe80::1%eth0')).toBe(ipKey('fe80::2'));
    expect(ipKey(undefined)).toBe('unknown');
    expect(ipKey('')).toBe('unknown');
  });

  test('remembered addresses give the same keys, also after the memo of 4,096 addresses starts afresh', () => {
    const addresses = Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? `10.0.${i >> 8}.${i & 255}` : `2001:db8:${i.toString(16)}:ff00::${i.toString(16)}`));
    const first = addresses.map((a) => ipKey(a));
    const again = addresses.map((a) => ipKey(a));
    expect(again).toEqual(first);
    expect(first[0]).toBe('10.0.0.0');
    expect(first[1]).toBe('2001:db8:1:ff00::/56');
    // The memo is per default grouping only: another subnet size is computed, not taken from it.
    expect(ipKey('2001:db8:1:ff00::1', 48)).toBe('2001:db8:1::/48');
    expect(ipKey('2001:db8:1:ff00::1')).toBe('2001:db8:1:ff00::/56');
  });
});

describe('cost', () => {
  test('a number: cost 5 on burst 10 leaves 5', async () => {
    const h = await harness({ rate: 10, burst: 10, cost: 5, clock: manualClock() });
    const res = await h.get().expect(200);
    expect(res.headers['ratelimit']).toBe('"default";r=5;t=1');
    await h.get().expect(200);
    await h.get().expect(429);
    expect(h.decisions[0]).toMatchObject({ cost: 5, remaining: 5 });
  });

  test('a function of the request, sync and async', async () => {
    const h = await harness({ rate: 10, burst: 10, cost: (req) => Number(req.get('x-cost') ?? 1), clock: manualClock() });
    expect((await h.get().set('x-cost', '3').expect(200)).headers['ratelimit']).toBe('"default";r=7;t=1');
    expect((await h.get().expect(200)).headers['ratelimit']).toBe('"default";r=6;t=1');

    const a = await harness({ rate: 10, burst: 10, cost: async () => 4 });
    expect((await a.get().expect(200)).headers['ratelimit']).toBe('"default";r=6;t=1');
  });

  test('cost above burst: 429, reason cost-exceeds-burst, no Retry-After, bucket untouched', async () => {
    const h = await harness({ rate: 10, burst: 10, cost: (req) => Number(req.get('x-cost') ?? 1) });
    const res = await h.get().set('x-cost', '11').expect(429);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.headers['ratelimit']).toBe('"default";r=10;t=0');
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(h.decisions[0]).toMatchObject({ allowed: false, reason: 'cost-exceeds-burst', cost: 11 });
    const next = await h.get().expect(200);
    expect(next.headers['ratelimit']).toBe('"default";r=9;t=1');
  });

  test('an invalid cost from the function reaches the error handler', async () => {
    const h = await harness({ rate: 10, cost: () => -1 });
    const res = await h.get().expect(500);
    expect(res.body.error).toMatch(/cost/);
  });
});

describe('req.rateLimit', () => {
  test('holds the decision of an allowed request', async () => {
    const h = await harness({ rate: 10, burst: 10, name: 'api' });
    await h.get().expect(200);
    expect(h.decisions[0]).toEqual({
      allowed: true,
      key: '127.0.0.1',
      cost: 1,
      limit: 10,
      remaining: 9,
      resetMs: 100,
      retryAfterMs: 0,
      waitedMs: 0,
      policy: expect.objectContaining({ name: 'api', rate: 10, intervalMs: 1000, burst: 10 }),
    });
  });

  test('holds the decision of a rejected request', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1 });
    await h.get().expect(200);
    await h.get().expect(429);
    expect(h.decisions[1]).toMatchObject({ allowed: false, reason: 'limited', limit: 1, remaining: 0 });
    expect(h.decisions[1]?.retryAfterMs).toBeGreaterThan(9000);
  });

  test('a response whose headers an earlier middleware sent already gets no RateLimit fields; the request is decided and goes on', async () => {
    const mw = rateLimit({ rate: 10, burst: 10 });
    const app = express();
    app.use((_req: Request, res: Response, next: NextFunction) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('early;');
      next();
    });
    app.use(mw);
    app.use((req: Request, res: Response) => {
      res.end(`remaining ${String(req.rateLimit?.remaining)}`);
    });
    const server = await listen(app, mw);
    const res = await request(server).get('/').buffer(true).parse((r, done) => {
      let text = '';
      r.on('data', (chunk: Buffer) => (text += chunk.toString()));
      r.on('end', () => done(null, text));
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe('early;remaining 9');
    expect(res.headers.ratelimit).toBeUndefined();
    expect(res.headers['ratelimit-policy']).toBeUndefined();
  });
});

describe('overflow queue', () => {
  test('a request over the limit waits and is served (rate 5/s, burst 1)', async () => {
    // B's token is 200 ms away from A's take: B waits that, less the time between A's take and B's
    // (7-18 ms under load, more after a GC pause). At 10/s the wait was 82-93 ms against the 50 below.
    const h = await harness({ rate: 5, interval: '1s', burst: 1, queue: { maxSize: 5, maxWait: '1s' } });
    const events: string[] = [];
    h.mw.limiter.on('enqueue', () => events.push('enqueue'));
    h.mw.limiter.on('dequeue', () => events.push('dequeue'));
    const order: string[] = [];
    const a = send(h.get()).then((r) => (order.push('A'), r));
    const b = send(h.get()).then((r) => (order.push('B'), r));
    const [resA, resB] = await Promise.all([a, b]);
    expect(resA.status).toBe(200);
    expect(resB.status).toBe(200);
    expect(order).toEqual(['A', 'B']);
    expect(events).toEqual(['enqueue', 'dequeue']);
    expect(h.decisions[1]?.waitedMs).toBeGreaterThan(50);
    expect(resB.body.waitedMs).toBeGreaterThan(50);
    expect(h.decisions[1]).toMatchObject({ allowed: true });
  });

  test('with a queue, a request served at once reports waitedMs 0 (as Decision.waitedMs documents)', async () => {
    const h = await harness({ rate: 10, interval: '1s', burst: 5, queue: { maxSize: 5, maxWait: '1s' } });
    const admits: Array<LimiterEvents['admit']> = [];
    h.mw.limiter.on('admit', (e) => admits.push(e));
    await h.get().expect(200);
    expect(h.decisions[0]?.allowed).toBe(true);
    expect(h.decisions[0]?.waitedMs).toBe(0);
    expect(admits[0]?.waitedMs).toBe(0);
  });

  test('queue full: 429 with reason queue-full and Retry-After; the queued one is still served', async () => {
    // 2/s: B is served 500 ms after A's take, and C must be decided before that, while B fills the
    // queue. Under load C was decided 8-62 ms after A: at 10/s, 100 ms, too close.
    const h = await harness({ rate: 2, interval: '1s', burst: 1, queue: { maxSize: 1, maxWait: '5s' } });
    await h.get().expect(200);
    const enqueued = nextEvent(h.mw, 'enqueue');
    const b = send(h.get());
    await enqueued;
    const c = await h.get().expect(429);
    expect(c.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(c.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(c.headers['ratelimit']).toMatch(/^"default";r=0;t=\d+$/);
    expect(JSON.parse(c.text)).toMatchObject({ type: QUOTA_EXCEEDED, status: 429 });
    expect((await b).status).toBe(200);
    const byReason = h.decisions.map((d) => (d?.allowed ? 'ok' : d?.reason));
    expect(byReason).toEqual(['ok', 'queue-full', 'ok']);
  });

  test('a request that cannot be served within maxWait is rejected at once, with Retry-After', async () => {
    const h = await harness({ rate: 1, interval: '10s', burst: 1, queue: { maxSize: 5, maxWait: '500ms' } });
    const enqueue = jest.fn();
    h.mw.limiter.on('enqueue', enqueue);
    await h.get().expect(200);
    const started = Date.now();
    const res = await h.get().expect(429);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(400); // not after waiting out maxWait
    expect(res.headers['retry-after']).toBe('10');
    expect(h.decisions[1]).toMatchObject({ allowed: false, reason: 'limited' });
    expect(h.decisions[1]?.waitedMs).toBeLessThan(400);
    expect(enqueue).not.toHaveBeenCalled();
  });
});

describe('an existing limiter', () => {
  test('`limiter` is used as is, and its buckets are shared', async () => {
    const limiter = createLimiter({ rate: 1, interval: '10s', burst: 1, name: 'shared' });
    const h = await harness({ limiter });
    expect(h.mw.limiter).toBe(limiter);
    await limiter.take('127.0.0.1');
    const res = await h.get().expect(429);
    expect(res.headers['ratelimit-policy']).toBe('"shared";q=1;w=10');
  });
});

describe('priority and queue.priorities', () => {
  test('a priority option with a queue turns queue.priorities on (requests rank across processes); an explicit setting wins', async () => {
    const on = rateLimit({ rate: 5, queue: { maxSize: 5 }, priority: (req) => (req.get('x-vip') ? 5 : 0) });
    expect(on.limiter.queueSettings).toMatchObject({ maxSize: 5, priorities: true });
    const queueTrue = rateLimit({ rate: 5, queue: true, priority: 1 });
    expect(queueTrue.limiter.queueSettings?.priorities).toBe(true);
    const off = rateLimit({ rate: 5, queue: { maxSize: 5, priorities: false }, priority: 1 });
    expect(off.limiter.queueSettings?.priorities).toBeUndefined();
    const none = rateLimit({ rate: 5, queue: { maxSize: 5 } });
    expect(none.limiter.queueSettings?.priorities).toBeUndefined();
    await Promise.all([on, queueTrue, off, none].map((m) => m.limiter.close()));
  });
});

describe('validation at construction', () => {
  function configError(options: unknown): FlowgateConfigError {
    let caught: unknown;
    try {
      rateLimit(options as ExpressRateLimitOptions);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlowgateConfigError);
    return caught as FlowgateConfigError;
  }

  test('rate: 0', () => {
    const error = configError({ rate: 0 });
    expect(error.option).toBe('rate');
    expect(error.message).toMatch(/rate/);
  });

  test('windowMS names the option and suggests interval', () => {
    const error = configError({ rate: 10, windowMS: 1000 });
    expect(error.option).toBe('windowMS');
    expect(error.message).toMatch(/windowMS/);
    expect(error.message).toMatch(/interval/);
  });

  test("headers: 'draft-9'", () => {
    const error = configError({ rate: 10, headers: 'draft-9' });
    expect(error.option).toBe('headers');
    expect(error.message).toMatch(/headers/);
  });

  test('statusCode: 200', () => {
    const error = configError({ rate: 10, statusCode: 200 });
    expect(error.option).toBe('statusCode');
    expect(error.message).toMatch(/statusCode/);
  });

  test("priority: 'high'", () => {
    const error = configError({ rate: 10, priority: 'high' as unknown as number });
    expect(error.option).toBe('priority');
    expect(error.message).toMatch(/priority="high": must be a finite number or a function/);
  });

  test('limiter combined with limiter options', () => {
    const limiter = createLimiter({ rate: 5 });
    const error = configError({ limiter, rate: 5 });
    expect(error.option).toBe('rate');
    expect(error.message).toMatch(/rate/);
    expect(error.message).toMatch(/limiter/);
  });

  test('message: null', () => {
    const error = configError({ rate: 10, message: null as unknown as string });
    expect(error.option).toBe('message');
    expect(error.message).toMatch(/message=null/);
  });

  test('a bad option found after the limiter was made closes that limiter (it detaches from its store)', () => {
    class WatchedStore extends MemoryStore {
      attached = 0;
      detached = 0;
      attachLimiter(): () => void {
        this.attached++;
        return () => void this.detached++;
      }
    }
    const store = new WatchedStore();
    expect(configError({ rate: 10, store, statusCode: 200 }).option).toBe('statusCode');
    expect([store.attached, store.detached]).toEqual([1, 1]);
  });

  test('a fixed cost above the burst (a request that could never be admitted)', () => {
    const error = configError({ rate: 2, cost: 5 });
    expect(error.option).toBe('cost');
    expect(error.message).toMatch(/cost=5: must be at most the limit's burst \(2\)/);
  });

  test("another library's option names get the flowgate option", () => {
    expect(configError({ rate: 10, keyGenerator: () => 'k' }).message).toMatch(/keyGenerator.*did you mean 'key'/);
    expect(configError({ rate: 10, whitelist: () => true }).message).toMatch(/did you mean 'skip'/);
    expect(configError({ rate: 10, standardHeaders: 'draft-8' }).message).toMatch(/did you mean 'headers'/);
  });

  test('nothing is thrown for good options, and errors carry ERR_FLOWGATE_CONFIG', () => {
    expect(() => rateLimit({ rate: 10 }).limiter.close()).not.toThrow();
    expect(configError({ rate: -1 }).code).toBe('ERR_FLOWGATE_CONFIG');
  });
});

describe('req.rateLimit', () => {
  test('reads the decision of this request, not another one, and can be overwritten by a later middleware', async () => {
    const app = express();
    app.use(rateLimit({ rate: 5, interval: '1m' }));
    app.get('/', (req, res) => res.json({ remaining: req.rateLimit?.remaining, own: Object.prototype.hasOwnProperty.call(req, 'rateLimit') }));
    app.get('/over', (req, res, next) => {
      req.rateLimit = { ...(req.rateLimit as Decision), remaining: -42 };
      next();
    }, (req, res) => res.json({ remaining: req.rateLimit?.remaining }));
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const first = await request(server).get('/');
      const second = await request(server).get('/');
      expect(first.body).toEqual({ remaining: 4, own: false });
      expect(second.body.remaining).toBe(3);
      expect((await request(server).get('/over')).body).toEqual({ remaining: -42 });
      expect((await request(server).get('/')).body.remaining).toBe(1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('a request prototype that already owns `rateLimit` keeps it: the decision is written on the request itself', async () => {
    const app = express();
    Object.defineProperty(app.request, 'rateLimit', { value: 'theirs', writable: true, configurable: true });
    app.use(rateLimit({ rate: 5, interval: '1m' }));
    app.get('/', (req, res) => res.json({ remaining: req.rateLimit?.remaining, proto: (Object.getPrototypeOf(req) as { rateLimit: unknown }).rateLimit }));
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      expect((await request(server).get('/')).body).toEqual({ remaining: 4, proto: 'theirs' });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
