// `concurrency` in the HTTP adapters, on the in-memory permit store: Express, Koa, and NestJS on Express
// and Fastify, with handlers that stay in flight until the test lets them finish, over real sockets.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, Req, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import express from 'express';
import Koa from 'koa';
import { rateLimit as expressRateLimit, type ExpressRateLimitOptions } from '../../adapters/express/index.js';
import { rateLimit as koaRateLimit } from '../../adapters/koa/index.js';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule, RateLimit, type FlowgateModuleOptions } from '../../adapters/nestjs/index.js';
import { createConcurrencyLimiter, type ConcurrencyLimiter } from '../../src/concurrency/concurrency-limiter.js';
import type { PermitStore } from '../../src/concurrency/permit-store.js';
import { configErrorOf } from '../helpers/config-error.js';
import { QUOTA_EXCEEDED } from '../../src/http/problem-details.js';
import { createLimiter, type Limiter } from '../../src/limiter.js';
import { get, open, type OpenRequest } from '../adapters/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { startNest, type Platform } from '../nestjs/nest-harness.js';
import { Gate } from './helpers/gate.js';

/** The limit of a test app: a concurrency limit, maybe beside a rate limit; every request has key 'k'. */
interface Limits {
  concurrency: number;
  rate?: number;
  burst?: number;
  interval?: string;
}

/** A running test app: `GET /work` waits at the gate under its `x-id` header, then answers `{ id }`. */
interface ConcurrencyApp {
  readonly url: string;
  readonly concurrency: ConcurrencyLimiter;
  readonly limiter: Limiter | undefined;
  close(): Promise<void>;
}

type AppFactory = (limits: Limits, gate: Gate) => Promise<ConcurrencyApp>;

const key = (): string => 'k';

async function listen(listener: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/work`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const expressApp: AppFactory = async (limits, gate) => {
  const middleware = expressRateLimit({ ...limits, key } as ExpressRateLimitOptions);
  const app = express();
  app.use(middleware);
  app.get('/work', async (req, res) => {
    const id = String(req.get('x-id'));
    await gate.enter(id);
    res.json({ id });
  });
  const server = await listen(app);
  return {
    url: server.url,
    concurrency: middleware.concurrencyLimiter as ConcurrencyLimiter,
    limiter: middleware.limiter,
    close: async () => {
      await server.close();
      await middleware.limiter?.close();
      await middleware.concurrencyLimiter?.close();
    },
  };
};

const koaApp: AppFactory = async (limits, gate) => {
  const middleware = koaRateLimit({ ...limits, key });
  const app = new Koa();
  app.silent = true;
  app.use(middleware);
  app.use(async (ctx) => {
    const id = ctx.get('x-id');
    await gate.enter(id);
    ctx.body = { id };
  });
  const server = await listen(app.callback());
  return {
    url: server.url,
    concurrency: middleware.concurrencyLimiter as ConcurrencyLimiter,
    limiter: middleware.limiter,
    close: async () => {
      await server.close();
      await middleware.limiter?.close();
      await middleware.concurrencyLimiter?.close();
    },
  };
};

/** A Nest root module with `options` app-wide (global guard) and `GET /work`. */
function nestModule(options: FlowgateModuleOptions, gate: Gate): Type<unknown> {
  @Controller()
  class WorkController {
    @Get('work')
    async work(@Req() request: { headers: Record<string, string | undefined> }): Promise<{ id: string }> {
      const id = String(request.headers['x-id']);
      await gate.enter(id);
      return { id };
    }
  }

  @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [WorkController], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class AppModule {}
  return AppModule;
}

function nestApp(platform: Platform): AppFactory {
  return async (limits, gate) => {
    const { app, url } = await startNest(nestModule({ ...limits, key }, gate), platform);
    const limiters = app.get(FlowgateLimiters);
    return { url: url('/work'), concurrency: limiters.defaultConcurrency?.concurrency as ConcurrencyLimiter, limiter: limiters.defaultLimit?.limiter, close: () => app.close() };
  };
}

const APPS: Array<[string, AppFactory]> = [
  ['express', expressApp],
  ['koa', koaApp],
  ['nest on express', nestApp('express')],
  ['nest on fastify', nestApp('fastify')],
];

describe.each(APPS)('concurrency: 2 on %s', (_name, start) => {
  let gate: Gate;
  let app: ConcurrencyApp;
  const opened: OpenRequest[] = [];

  function send(id: string): OpenRequest {
    const request = open(app.url, { 'x-id': id });
    request.answer.catch(() => undefined); // cut on purpose, or answered after the test looked
    opened.push(request);
    return request;
  }

  beforeEach(() => {
    gate = new Gate();
  });

  afterEach(async () => {
    gate.openAll();
    await Promise.allSettled(opened.splice(0).map((r) => r.answer));
    await app.close();
  });

  test('the third request in flight is refused with 429, problem+json and the headers; one finishing admits the next', async () => {
    app = await start({ concurrency: 2 }, gate);
    const a = send('a');
    const b = send('b');
    await waitFor(() => gate.arrived('a') && gate.arrived('b'), 5000, 'a and b in their handlers');

    const c = await get(app.url, { 'x-id': 'c' });
    expect(c.status).toBe(429);
    expect(gate.arrived('c')).toBe(false);
    expect(c.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(c.json()).toMatchObject({ type: QUOTA_EXCEEDED, status: 429, 'violated-policies': ['default'] });
    expect(c.json<{ detail: string }>().detail).toMatch(/in flight/);
    expect(c.headers['ratelimit-policy']).toBe('"default";q=2;qu="concurrent-requests"');
    expect(c.headers.ratelimit).toBe('"default";r=0');
    expect(c.headers['retry-after']).toBe('1');

    gate.open('a');
    const first = await a.answer;
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"default";q=2;qu="concurrent-requests"');
    expect(first.headers.ratelimit).toBe('"default";r=1');
    // Released when a's response closed.
    await waitFor(() => app.concurrency.inFlight('k') === 1, 5000, "a's permit released");

    const d = send('d');
    await waitFor(() => gate.arrived('d'), 5000, 'd admitted');
    gate.open('b');
    gate.open('d');
    expect((await b.answer).status).toBe(200);
    expect((await d.answer).status).toBe(200);
    await waitFor(() => app.concurrency.inFlight('k') === 0, 5000, 'every permit released');
  });

  test('a client that disconnects releases its permit while its handler still runs', async () => {
    app = await start({ concurrency: 2 }, gate);
    const a = send('a');
    send('b');
    await waitFor(() => gate.arrived('a') && gate.arrived('b'), 5000, 'a and b in their handlers');
    expect((await get(app.url, { 'x-id': 'refused' })).status).toBe(429);

    a.cut();
    await waitFor(() => app.concurrency.inFlight('k') === 1, 5000, "the disconnected client's permit released");
    send('c');
    await waitFor(() => gate.arrived('c'), 5000, 'c admitted in its place');
    expect(app.concurrency.inFlight('k')).toBe(2);
  });

  test('beside a rate limit: both policies in the headers, and a refusal for concurrency gives the rate tokens back', async () => {
    app = await start({ rate: 10, burst: 10, interval: '1m', concurrency: 1 }, gate);
    const a = send('a');
    await waitFor(() => gate.arrived('a'), 5000, 'a in its handler');
    const refused = await get(app.url, { 'x-id': 'b' });
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({ 'violated-policies': ['default-concurrency'] });
    expect(refused.headers['ratelimit-policy']).toBe('"default-concurrency";q=1;qu="concurrent-requests"');
    expect(refused.headers.ratelimit).toBe('"default-concurrency";r=0');
    expect(refused.headers['retry-after']).toBe('1');
    // Only a's token is spent: the refused request's token came back.
    expect((await (app.limiter as Limiter).peek('k')).remaining).toBe(9);

    gate.open('a');
    const admitted = await a.answer;
    expect(admitted.status).toBe(200);
    expect(admitted.headers['ratelimit-policy']).toBe('"default";q=10;w=60, "default-concurrency";q=1;qu="concurrent-requests"');
    expect(admitted.headers.ratelimit).toMatch(/^"default";r=9;t=\d+, "default-concurrency";r=0$/);
  });
});

describe('NestJS: @RateLimit({ concurrency }) on a handler', () => {
  const gate = new Gate();

  /** Sends requests (ids `<id>-<n>`) until one is admitted, within 5 s; a refused one is retried. */
  async function admitted(url: () => string, id: string): Promise<{ id: string; request: OpenRequest }> {
    const deadline = performance.now() + 5000;
    for (let attempt = 0; performance.now() < deadline; attempt++) {
      const attemptId = `${id}-${attempt}`;
      const request = open(url(), { 'x-id': attemptId });
      let status: number | undefined;
      request.answer.then((answer) => (status = answer.status)).catch(() => undefined);
      await waitFor(() => gate.arrived(attemptId) || status !== undefined, 5000, `an answer to ${attemptId}`);
      if (gate.arrived(attemptId)) return { id: attemptId, request };
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${id}: never admitted within 5 s`);
  }

  @Controller()
  class ExportController {
    @Get('export')
    @RateLimit({ name: 'exports', concurrency: 1 })
    async exportAll(@Req() request: { headers: Record<string, string | undefined> }): Promise<string> {
      await gate.enter(String(request.headers['x-id']));
      return 'done';
    }

    @Get('free')
    free(): string {
      return 'free';
    }
  }

  @Module({ imports: [FlowgateModule.forRoot({ key })], controllers: [ExportController], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class ExportModule {}

  test.each(['express', 'fastify'] as const)('one export at a time on %s; other routes are not limited', async (platform) => {
    const { app, url } = await startNest(ExportModule, platform);
    try {
      const first = open(url('/export'), { 'x-id': `${platform}-1` });
      await waitFor(() => gate.arrived(`${platform}-1`), 5000, 'the first export running');
      const second = await get(url('/export'), { 'x-id': `${platform}-2` });
      expect(second.status).toBe(429);
      expect(second.headers['ratelimit-policy']).toBe('"exports";q=1;qu="concurrent-requests"');
      expect(second.json()).toMatchObject({ 'violated-policies': ['exports'] });
      expect((await get(url('/free'))).status).toBe(200);
      gate.open(`${platform}-1`);
      expect((await first.answer).status).toBe(200);
      // The permit comes back when the first response closes on the server: a refused retry is retried.
      const third = await admitted(() => url('/export'), `${platform}-3`);
      gate.open(third.id);
      expect((await third.request.answer).status).toBe(200);
    } finally {
      gate.openAll();
      await app.close();
    }
  });
});

describe('validation at construction', () => {
  test('neither rate nor concurrency names rate, and says concurrency would do', () => {
    const error = configErrorOf(() => expressRateLimit({} as ExpressRateLimitOptions));
    expect(error.option).toBe('rate');
    expect(error.message).toMatch(/concurrency/);
    expect(configErrorOf(() => koaRateLimit({})).option).toBe('rate');
  });

  test.each([0, -1, 2.5, '3', Number.NaN, Number.POSITIVE_INFINITY])('concurrency: %p is refused, naming the option and the value', (value) => {
    const error = configErrorOf(() => expressRateLimit({ concurrency: value as number }));
    expect(error.option).toBe('concurrency');
    expect(error.value).toBe(value);
    expect(error.message).toMatch(/concurrency=/);
    expect(error.message).toMatch(/integer >= 1/);
    expect(configErrorOf(() => createConcurrencyLimiter({ concurrency: value as number })).option).toBe('concurrency');
  });

  test('rate-limit options without a rate are refused beside concurrency alone', () => {
    expect(configErrorOf(() => expressRateLimit({ concurrency: 2, burst: 5 } as ExpressRateLimitOptions)).option).toBe('burst');
  });

  test('with an existing limiter, concurrency must be a ConcurrencyLimiter (its store explicit)', async () => {
    const limiter = createLimiter({ rate: 5 });
    expect(configErrorOf(() => expressRateLimit({ limiter, concurrency: 2 })).option).toBe('concurrency');
    const concurrency = createConcurrencyLimiter({ concurrency: 2 });
    const middleware = expressRateLimit({ limiter, concurrency });
    expect(middleware.concurrencyLimiter).toBe(concurrency);
    await limiter.close();
  });

  test('@RateLimit({ concurrency: 0 }) fails when the class is defined', () => {
    expect(configErrorOf(() => RateLimit({ name: 'x', concurrency: 0 })).option).toBe('concurrency');
  });

  test('concurrency alone: the middleware has no rate limiter', async () => {
    const middleware = expressRateLimit({ concurrency: 3 });
    expect(middleware.limiter).toBeUndefined();
    expect(middleware.concurrencyLimiter?.max).toBe(3);
    await middleware.concurrencyLimiter?.close();
  });
});

describe('a permit store that fails, beside a rate limit', () => {
  /** A permit store whose every acquire fails (a shared store that is down). */
  const failing: PermitStore = {
    acquire: () => Promise.reject(new Error('permit store down')),
    release: () => undefined,
    inFlight: () => 0,
    close: async () => undefined,
  };

  test.each(['Express', 'Koa'] as const)('%s: the error goes to the framework, and the rate limit gets its tokens back', async (framework) => {
    const limiter = createLimiter({ rate: 1, interval: '10s', burst: 2 });
    const concurrency = createConcurrencyLimiter({ concurrency: 2, store: failing });
    let server;
    if (framework === 'Express') {
      const app = express();
      app.use(expressRateLimit({ limiter, concurrency, key }));
      app.get('/work', (_req, res) => void res.send('served'));
      server = await listen(app);
    } else {
      const app = new Koa();
      app.silent = true;
      app.use(koaRateLimit({ limiter, concurrency, key }));
      app.use((ctx) => {
        ctx.body = 'served';
      });
      server = await listen(app.callback());
    }
    try {
      const answer = await get(server.url);
      expect(answer.status).toBe(500);
      expect((await limiter.peek('k')).remaining).toBe(2);
    } finally {
      await server.close();
      await limiter.close();
    }
  });
});

describe('a client that leaves before its permit comes (during an async key)', () => {
  test.each(['Express', 'Koa', 'Nest on Express', 'Nest on Fastify'] as const)('%s: the handler does not run, and no permit stays held', async (framework) => {
    let runs = 0;
    const slowKey = async (): Promise<string> => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return 'k';
    };
    let server;
    let concurrency: ConcurrencyLimiter | undefined;
    if (framework === 'Express') {
      const middleware = expressRateLimit({ concurrency: 1, key: slowKey });
      concurrency = middleware.concurrencyLimiter;
      const app = express();
      app.use(middleware);
      app.get('/work', (_req, res) => {
        runs++;
        res.send('served');
      });
      server = await listen(app);
    } else if (framework === 'Nest on Express' || framework === 'Nest on Fastify') {
      // The controller's handler passes the gate at once, counting its runs.
      const counted = { enter: () => ((runs += 1), Promise.resolve()) } as unknown as Gate;
      const { app, url } = await startNest(nestModule({ concurrency: 1, key: slowKey }, counted), framework === 'Nest on Express' ? 'express' : 'fastify');
      concurrency = app.get(FlowgateLimiters).defaultConcurrency?.concurrency;
      server = { url: url('/work'), close: () => app.close() };
    } else {
      const middleware = koaRateLimit({ concurrency: 1, key: slowKey });
      concurrency = middleware.concurrencyLimiter;
      const app = new Koa();
      app.use(middleware);
      app.use((ctx) => {
        runs++;
        ctx.body = 'served';
      });
      server = await listen(app.callback());
    }
    try {
      const leaving = open(server.url);
      leaving.answer.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 40));
      leaving.cut();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(runs).toBe(0);
      expect(concurrency?.inFlight('k')).toBe(0);
      expect((await get(server.url)).status).toBe(200);
      expect(runs).toBe(1);
    } finally {
      await server.close();
      await concurrency?.close();
    }
  });
});

describe('dryRun with a concurrency limit (Express)', () => {
  test('a request over the limit is served, marked dryRun with wouldReject concurrency; it holds no permit', async () => {
    const middleware = expressRateLimit({ concurrency: 1, dryRun: true, key });
    const app = express();
    app.use(middleware);
    let releaseFirst: () => void = () => undefined;
    const firstIn = new Promise<void>((resolve) => {
      app.get('/work', async (req, res) => {
        const decision = req.rateLimit;
        if (req.get('x-id') === 'first') {
          resolve();
          await new Promise<void>((done) => (releaseFirst = done));
        }
        res.json({ dryRun: decision?.dryRun ?? false, wouldReject: decision?.wouldReject ?? null, inFlight: middleware.concurrencyLimiter?.inFlight('k') });
      });
    });
    const server = await listen(app);
    try {
      const first = fetch(server.url, { headers: { 'x-id': 'first' } });
      await firstIn;
      const second = await fetch(server.url, { headers: { 'x-id': 'second' } });
      expect(second.status).toBe(200);
      expect(await second.json()).toEqual({ dryRun: true, wouldReject: 'concurrency', inFlight: 1 });
      releaseFirst();
      const answered = await first;
      expect(answered.status).toBe(200);
      expect(await answered.json()).toEqual({ dryRun: false, wouldReject: null, inFlight: 1 });
      await waitFor(() => middleware.concurrencyLimiter?.inFlight('k') === 0, 5_000, 'the permit released');
    } finally {
      await server.close();
      await middleware.concurrencyLimiter?.close();
    }
  });
});
