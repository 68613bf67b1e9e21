// flowgate/metrics on real apps (memory store): Express, Koa and NestJS requests, scraped from GET /metrics and
// checked exactly: decisions by result and reason, queue depth up and back to 0, waits served and aborted, dry-run.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import express from 'express';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { rateLimit, type ExpressRateLimitOptions } from '../../adapters/express/index.js';
import { rateLimit as koaRateLimit } from '../../adapters/koa/index.js';
import { flowgateMetrics, type FlowgateMetrics } from '../../adapters/metrics/index.js';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule, RateLimit } from '../../adapters/nestjs/index.js';
import { get, open } from '../adapters/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { closeNestApps, startNest } from '../nestjs/nest-harness.js';
import { valueOf } from './exposition.js';

const DECISIONS = 'flowgate_decisions_total';
const DEPTH = 'flowgate_queue_depth';
const WAIT = 'flowgate_queue_wait_seconds';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await closeNestApps();
});

/** Fresh metrics on a fresh registry, closed after the test. */
function newMetrics(): FlowgateMetrics {
  const metrics = flowgateMetrics({ registry: new Registry() });
  cleanups.push(() => metrics.close());
  return metrics;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * An Express app as the examples build it: the limiter on every route but `/metrics` (skipped),
 * `GET /` answering 200, and `GET /metrics` serving the registry. Returns its URL and a scraper.
 */
async function expressApp(options: ExpressRateLimitOptions): Promise<{ url: string; scrape(): Promise<string>; metrics: FlowgateMetrics }> {
  const metrics = newMetrics();
  const limit = rateLimit({ ...options, skip: (req) => req.path === '/metrics' });
  metrics.observe(limit);
  cleanups.push(() => limit.limiter.close());
  const app = express();
  app.use(limit);
  app.get('/', (_req, res) => void res.send('ok'));
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const url = await listen(http.createServer(app));
  return {
    url,
    metrics,
    scrape: async () => {
      const answer = await get(`${url}/metrics`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      return answer.body;
    },
  };
}

test('Express: admitted and rejected decisions are counted exactly, by limiter and reason', async () => {
  const app = await expressApp({ rate: 1, interval: '1h', burst: 3, name: 'api' });
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await get(`${app.url}/`)).status);
  expect(statuses).toEqual([200, 200, 200, 429, 429]);

  const text = await app.scrape();
  expect(text).toContain(`# TYPE ${DECISIONS} counter`);
  expect(valueOf(text, DECISIONS, { limiter: 'api', result: 'admitted', reason: '' })).toBe(3);
  expect(valueOf(text, DECISIONS, { limiter: 'api', result: 'rejected', reason: 'limited' })).toBe(2);
  expect(valueOf(text, DECISIONS, { limiter: 'api', result: 'dry_run_rejected', reason: 'limited' })).toBeUndefined();
  // No queue: no depth series; the scrapes themselves were skipped, so they count nowhere.
  expect(valueOf(text, DEPTH, { limiter: 'api' })).toBeUndefined();
  expect(valueOf(await app.scrape(), DECISIONS, { limiter: 'api', result: 'admitted', reason: '' })).toBe(3);
});

test('Express with a queue: depth rises to 3 while takes wait, falls back to 0, and each served wait is in the histogram', async () => {
  // Burst 1, one token a second: of 4 requests at once, 1 passes and 3 wait about 1, 2 and 3 s.
  const app = await expressApp({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '10s' }, name: 'queued' });
  const depth = async (): Promise<number | undefined> => valueOf(await app.scrape(), DEPTH, { limiter: 'queued' });
  expect(await depth()).toBe(0);

  const answers = Promise.all([0, 1, 2, 3].map(() => get(`${app.url}/`)));
  await waitFor(async () => (await depth()) === 3, 5_000, 'queue depth 3');
  expect((await answers).map((a) => a.status)).toEqual([200, 200, 200, 200]);

  const text = await app.scrape();
  expect(valueOf(text, DEPTH, { limiter: 'queued' })).toBe(0);
  expect(valueOf(text, DECISIONS, { limiter: 'queued', result: 'admitted', reason: '' })).toBe(4);
  expect(valueOf(text, `${WAIT}_count`, { limiter: 'queued', result: 'served' })).toBe(3);
  // Waits of about 1, 2 and 3 s: none within 0.25 s, all within 5 s.
  expect(valueOf(text, `${WAIT}_bucket`, { limiter: 'queued', result: 'served', le: '0.25' })).toBe(0);
  expect(valueOf(text, `${WAIT}_bucket`, { limiter: 'queued', result: 'served', le: '5' })).toBe(3);
  expect(valueOf(text, `${WAIT}_sum`, { limiter: 'queued', result: 'served' })).toBeGreaterThan(4);
}, 20_000);

test('Express with a queue: a client that leaves while waiting counts as aborted (depth back to 0, wait observed, decision rejected)', async () => {
  const app = await expressApp({ rate: 1, interval: '10s', burst: 1, queue: { maxSize: 10, maxWait: '30s' }, name: 'leaving' });
  expect((await get(`${app.url}/`)).status).toBe(200);
  const waiting = open(`${app.url}/`);
  waiting.answer.catch(() => undefined);
  await waitFor(async () => valueOf(await app.scrape(), DEPTH, { limiter: 'leaving' }) === 1, 5_000, 'one take waiting');
  waiting.cut();
  await waitFor(async () => valueOf(await app.scrape(), DEPTH, { limiter: 'leaving' }) === 0, 5_000, 'the queue empty again');

  const text = await app.scrape();
  expect(valueOf(text, `${WAIT}_count`, { limiter: 'leaving', result: 'aborted' })).toBe(1);
  expect(valueOf(text, `${WAIT}_count`, { limiter: 'leaving', result: 'served' })).toBeUndefined();
  expect(valueOf(text, DECISIONS, { limiter: 'leaving', result: 'rejected', reason: 'aborted' })).toBe(1);
  expect(valueOf(text, DECISIONS, { limiter: 'leaving', result: 'admitted', reason: '' })).toBe(1);
});

test('Express in dry-run: takes over the limit are admitted and counted as dry_run_rejected with the reason they would have had', async () => {
  const app = await expressApp({ rate: 1, interval: '1h', burst: 2, name: 'shadow', dryRun: true });
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await get(`${app.url}/`)).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200]);

  const text = await app.scrape();
  expect(valueOf(text, DECISIONS, { limiter: 'shadow', result: 'admitted', reason: '' })).toBe(2);
  expect(valueOf(text, DECISIONS, { limiter: 'shadow', result: 'dry_run_rejected', reason: 'limited' })).toBe(3);
  expect(valueOf(text, DECISIONS, { limiter: 'shadow', result: 'rejected', reason: 'limited' })).toBeUndefined();
});

test("Koa: the middleware's limiter is observed through the middleware", async () => {
  const metrics = newMetrics();
  const limit = koaRateLimit({ rate: 1, interval: '1h', burst: 1, name: 'koa' });
  metrics.observe(limit);
  cleanups.push(() => limit.limiter.close());
  const app = new Koa();
  app.use(limit);
  app.use((ctx) => {
    ctx.body = 'ok';
  });
  const url = await listen(http.createServer(app.callback()));
  expect((await get(`${url}/`)).status).toBe(200);
  expect((await get(`${url}/`)).status).toBe(429);

  const text = await metrics.registry.metrics();
  expect(valueOf(text, DECISIONS, { limiter: 'koa', result: 'admitted', reason: '' })).toBe(1);
  expect(valueOf(text, DECISIONS, { limiter: 'koa', result: 'rejected', reason: 'limited' })).toBe(1);
});

@Controller()
class MetricsTestController {
  @Get('hello')
  hello(): string {
    return 'hello';
  }

  @Get('login')
  @RateLimit({ name: 'login', rate: 1, interval: '1h' })
  login(): string {
    return 'welcome';
  }
}

@Module({
  imports: [FlowgateModule.forRoot({ rate: 100, interval: '1s', burst: 100 })],
  controllers: [MetricsTestController],
  providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }],
})
class MetricsTestModule {}

test('NestJS: observing FlowgateLimiters counts the default limit and each @RateLimit limit under its own name', async () => {
  const metrics = newMetrics();
  const { app, url } = await startNest(MetricsTestModule, 'express');
  metrics.observe(app.get(FlowgateLimiters));
  expect((await get(url('/hello'))).status).toBe(200);
  expect((await get(url('/login'))).status).toBe(200);
  expect((await get(url('/login'))).status).toBe(429);

  const text = await metrics.registry.metrics();
  // Every request passed the default limit; the rejected one gave its token back (all-or-nothing).
  expect(valueOf(text, DECISIONS, { limiter: 'default', result: 'admitted', reason: '' })).toBe(3);
  const login = 'MetricsTestController.login:login';
  expect(valueOf(text, DECISIONS, { limiter: login, result: 'admitted', reason: '' })).toBe(1);
  expect(valueOf(text, DECISIONS, { limiter: login, result: 'rejected', reason: 'limited' })).toBe(1);
});
