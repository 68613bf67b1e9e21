// flowgate/koa beyond the shared scenarios: the default key (ctx.ip, app.proxy, IPv6 /56), the
// handler option, and validation when the middleware is made.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Koa2 from 'koa2';
import { rateLimit, type KoaRateLimitOptions } from '../../adapters/koa/index.js';
import { FlowgateConfigError } from '../../src/errors.js';
import { Gate } from '../concurrency/helpers/gate.js';
import { waitFor, within } from '../helpers/wait.js';
import { get, open } from './http-client.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Serves a Koa app with the middleware and a route answering `ctx.state.rateLimit.key`; returns its URL. */
async function serve(options: KoaRateLimitOptions, proxy = false): Promise<string> {
  const app = new Koa();
  app.proxy = proxy;
  app.use(rateLimit(options));
  app.use((ctx) => {
    ctx.body = { key: ctx.state.rateLimit?.key ?? null };
  });
  const server = http.createServer(app.callback());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('flowgate/koa', () => {
  test('the default key is ctx.ip: the socket address unless app.proxy is set', async () => {
    const direct = await serve({ rate: 10 });
    expect((await get(direct, { 'x-forwarded-for': '203.0.113.7' })).json()).toEqual({ key: '127.0.0.1' });
    const proxied = await serve({ rate: 10 }, true);
    expect((await get(proxied, { 'x-forwarded-for': '203.0.113.7' })).json()).toEqual({ key: '203.0.113.7' });
  });

  test('IPv6 clients are grouped by /56', async () => {
    const url = await serve({ rate: 10 }, true);
    const a = await get(url, { 'x-forwarded-for': '2001:db8:1:2:3::1' });
    const b = await get(url, { 'x-forwarded-for': '2001:db8:1:ff::9' });
    expect(a.json()).toEqual({ key: '2001:db8:1::/56' });
    expect(b.json()).toEqual({ key: '2001:db8:1::/56' });
  });

  test('a response whose headers an earlier middleware sent already gets no RateLimit fields; the request is decided and goes on', async () => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      ctx.respond = false;
      ctx.res.writeHead(200, { 'content-type': 'text/plain' });
      ctx.res.write('early;');
      await next();
      ctx.res.end(`remaining ${String(ctx.state.rateLimit?.remaining)}`);
    });
    app.use(rateLimit({ rate: 10, burst: 10 }));
    const server = http.createServer(app.callback());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const answer = await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('early;remaining 9');
    expect(answer.headers.ratelimit).toBeUndefined();
    expect(answer.headers['ratelimit-policy']).toBeUndefined();
  });

  test("an error's own headers are answered beside the RateLimit fields, and the error is left as it was", async () => {
    const app = new Koa();
    app.silent = true;
    // One error object thrown on every request, with headers of its own.
    const denied = Object.assign(new Error('who are you?'), { status: 401, expose: true, headers: { 'WWW-Authenticate': 'Basic' } });
    const plain = new Error('boom');
    app.use(rateLimit({ rate: 10, interval: '10s', burst: 10 }));
    app.use((ctx) => {
      throw ctx.path === '/denied' ? denied : plain;
    });
    const server = http.createServer(app.callback());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const remaining of [9, 8]) {
      const answer = await get(`${url}/denied`);
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Basic');
      expect(answer.headers.ratelimit).toMatch(new RegExp(`^"default";r=${remaining};t=\\d+$`));
    }
    expect(denied.headers).toEqual({ 'WWW-Authenticate': 'Basic' });
    expect((await get(`${url}/plain`)).headers.ratelimit).toMatch(/^"default";r=7;t=\d+$/);
    expect(Object.prototype.hasOwnProperty.call(plain, 'headers')).toBe(false);
  });

  test('handler answers a rejection, with status and headers already set', async () => {
    const handler = jest.fn((ctx: Koa.Context, _next: Koa.Next, decision: { reason?: string }) => {
      ctx.body = { custom: true, reason: decision.reason, status: ctx.status };
    });
    const url = await serve({ rate: 1, interval: '10s', burst: 1, handler });
    expect((await get(url)).status).toBe(200);
    const rejected = await get(url);
    expect(rejected.status).toBe(429);
    expect(rejected.json()).toEqual({ custom: true, reason: 'limited', status: 429 });
    expect(rejected.headers['retry-after']).toBeDefined();
    expect(handler).toHaveBeenCalledTimes(1);
  });

  test.each<[string, Record<string, unknown>]>([
    ['an unknown option', { rate: 1, windowMs: 1000 }],
    ['a handler that is not a function', { rate: 1, handler: 'no' }],
    ['no rate', {}],
  ])('%s throws FlowgateConfigError when the middleware is made', (_name, options) => {
    expect(() => rateLimit(options as KoaRateLimitOptions)).toThrow(FlowgateConfigError);
  });
});

/** Serves a Koa app (of the given major version) with `middleware` and then `route`; returns its base URL. */
async function serveWith(KoaClass: typeof Koa, middleware: Koa.Middleware, route: Koa.Middleware): Promise<string> {
  const app = new KoaClass();
  app.silent = true;
  app.use(middleware);
  app.use(route);
  const server = http.createServer(app.callback());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An error of an HTTP client that exposes the upstream's headers through a getter (no setter). */
class UpstreamError extends Error {
  readonly status = 502;
  constructor(private readonly upstream: Record<string, string>) {
    super('upstream failed');
  }

  get headers(): Record<string, string> {
    return this.upstream;
  }
}

describe.each<[string, typeof Koa]>([
  ['Koa 3', Koa],
  ['Koa 2', Koa2],
])('flowgate/koa error answers on %s', (_name, KoaClass) => {
  test("an error whose headers cannot be assigned (a getter, a read-only property) is answered with its own headers and the RateLimit fields, and left as it was", async () => {
    const getter = new UpstreamError({ 'x-upstream': 'a' });
    const readOnly = Object.defineProperty(Object.assign(new Error('conflict'), { status: 409, expose: true }), 'headers', {
      value: { 'X-Err': '1' },
      writable: false,
      enumerable: true,
    });
    const url = await serveWith(KoaClass, rateLimit({ rate: 10, interval: '10s', burst: 10 }), (ctx) => {
      throw ctx.path === '/getter' ? getter : readOnly;
    });
    // Before the fix, the first request was never answered (the adapter's assignment threw inside ctx.onerror).
    const upstream = await within(get(`${url}/getter`), 5000, 'the answer to an error with a getter for headers');
    expect(upstream.status).toBe(502);
    expect(upstream.headers['x-upstream']).toBe('a');
    expect(upstream.headers.ratelimit).toMatch(/^"default";r=9;t=\d+$/);
    expect(upstream.headers['ratelimit-policy']).toBe('"default";q=10;w=10');
    const conflict = await within(get(`${url}/read-only`), 5000, 'the answer to an error with read-only headers');
    expect(conflict.status).toBe(409);
    expect(conflict.body).toBe('conflict');
    expect(conflict.headers['x-err']).toBe('1');
    expect(conflict.headers.ratelimit).toMatch(/^"default";r=8;t=\d+$/);
    // The errors are as they were thrown.
    expect(getter.headers).toEqual({ 'x-upstream': 'a' });
    expect(Object.prototype.hasOwnProperty.call(getter, 'headers')).toBe(false);
    expect(Object.getOwnPropertyDescriptor(readOnly, 'headers')).toEqual({ value: { 'X-Err': '1' }, writable: false, enumerable: true, configurable: false });
  });

  test('an error answer after admission drops the headers the app set, as Koa does, but keeps the RateLimit fields; the response is left as it was', async () => {
    let response: http.ServerResponse | undefined;
    const url = await serveWith(KoaClass, rateLimit({ rate: 10, interval: '10s', burst: 10 }), (ctx) => {
      response = ctx.res;
      ctx.set('Retry-After', '30');
      ctx.set('X-App', 'set before the error');
      ctx.throw(503, 'maintenance');
    });
    const answer = await get(`${url}/`);
    expect(answer.status).toBe(503);
    expect(answer.headers.ratelimit).toMatch(/^"default";r=9;t=\d+$/);
    expect(answer.headers['ratelimit-policy']).toBe('"default";q=10;w=10');
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(answer.headers['x-app']).toBeUndefined();
    expect(response).toBeDefined();
    expect(Object.prototype.hasOwnProperty.call(response, 'removeHeader')).toBe(false);
  });

  test('a handler that answers a rejection with ctx.throw keeps Retry-After and the RateLimit fields', async () => {
    const handler = jest.fn((ctx: Koa.Context) => ctx.throw(429, 'Slow down'));
    const url = await serveWith(KoaClass, rateLimit({ rate: 1, interval: '10s', burst: 1, handler }), (ctx) => {
      ctx.body = 'ok';
    });
    const admitted = await get(`${url}/`);
    expect(admitted.status).toBe(200);
    const rejected = await get(`${url}/`);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(rejected.status).toBe(429);
    expect(rejected.body).toBe('Slow down');
    expect(Number(rejected.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(rejected.headers.ratelimit).toMatch(/^"default";r=0;t=\d+$/);
    expect(rejected.headers['ratelimit-policy']).toBe('"default";q=1;w=10');
  });

  test('a handler that lets a rejected request through (a soft limit): an error answer downstream keeps the RateLimit fields but not a Retry-After the app set', async () => {
    const url = await serveWith(
      KoaClass,
      rateLimit({
        rate: 1,
        interval: '10s',
        burst: 1,
        handler: (ctx, next) => {
          ctx.status = 200;
          return next();
        },
      }),
      (ctx) => {
        ctx.set('Retry-After', '3600');
        ctx.set('X-App', '1');
        ctx.throw(500, 'db down');
      },
    );
    const admitted = await get(`${url}/`);
    const softly = await get(`${url}/`);
    for (const answer of [admitted, softly]) {
      expect(answer.status).toBe(500);
      // Koa drops the app's headers on an error answer, as it does without flowgate.
      expect(answer.headers['x-app']).toBeUndefined();
      expect(answer.headers['retry-after']).toBeUndefined();
      expect(answer.headers.ratelimit).toMatch(/^"default";r=0;t=\d+$/);
    }
  });

  test('a handler that answers a concurrency refusal with ctx.throw keeps the RateLimit fields and Retry-After of the default answer', async () => {
    const gate = new Gate();
    const route: Koa.Middleware = async (ctx) => {
      await gate.enter(ctx.get('x-id'));
      ctx.body = 'ok';
    };
    const plainUrl = await serveWith(KoaClass, rateLimit({ concurrency: 1, key: () => 'k' }), route);
    const throwingUrl = await serveWith(KoaClass, rateLimit({ concurrency: 1, key: () => 'k', handler: (ctx) => ctx.throw(429, 'busy') }), route);
    try {
      const answers = [];
      for (const url of [plainUrl, throwingUrl]) {
        const held = open(`${url}/`, { 'x-id': `${url}-1` });
        await waitFor(() => gate.arrived(`${url}-1`), 5000, 'the first request running');
        answers.push(await get(`${url}/`, { 'x-id': `${url}-2` }));
        gate.open(`${url}-1`);
        expect((await held.answer).status).toBe(200);
      }
      const [plain, thrown] = answers as [Awaited<ReturnType<typeof get>>, Awaited<ReturnType<typeof get>>];
      expect(plain.status).toBe(429);
      expect(thrown.status).toBe(429);
      expect(thrown.body).toBe('busy');
      expect(plain.headers.ratelimit).toBe('"default";r=0');
      expect(thrown.headers.ratelimit).toBe(plain.headers.ratelimit);
      expect(thrown.headers['ratelimit-policy']).toBe(plain.headers['ratelimit-policy']);
      expect(plain.headers['retry-after']).toMatch(/^\d+$/);
      expect(thrown.headers['retry-after']).toBe(plain.headers['retry-after']);
    } finally {
      gate.openAll();
    }
  });

  test('with headers: false, a handler that throws still keeps Retry-After (and sends no RateLimit fields)', async () => {
    const url = await serveWith(KoaClass, rateLimit({ rate: 1, interval: '10s', burst: 1, headers: false, handler: (ctx) => ctx.throw(429) }), (ctx) => {
      ctx.body = 'ok';
    });
    expect((await get(`${url}/`)).status).toBe(200);
    const rejected = await get(`${url}/`);
    expect(rejected.status).toBe(429);
    expect(Number(rejected.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(rejected.headers.ratelimit).toBeUndefined();
  });
});
