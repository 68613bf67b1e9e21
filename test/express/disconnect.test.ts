// A client that disconnects while its request waits in the overflow queue gives its place up: a real
// socket test (no supertest), observed through the limiter's events.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { rateLimit } from '../../adapters/express/index.js';
import type { LimiterEvents } from '../../src/index.js';

/** Fails with `what` when `promise` does not settle within `ms` (instead of hanging to the test timeout). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
}

describe('client disconnect while queued', () => {
  const mw = rateLimit({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '5s' } });
  const limiter = mw.limiter;
  /** Requests the route handler served: id and the moment it ran. */
  const served: Array<{ id: string; at: number; waitedMs: number | undefined }> = [];
  const events: Array<[string, unknown]> = [];
  const agent = new http.Agent({ keepAlive: false });
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    const app = express();
    app.use(mw);
    app.get('/', (req, res) => {
      served.push({ id: String(req.get('x-id')), at: performance.now(), waitedMs: req.rateLimit?.waitedMs });
      res.json({ id: req.get('x-id') });
    });
    server = http.createServer(app);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    for (const name of ['admit', 'reject', 'enqueue', 'dequeue', 'timeout', 'abort'] as const) {
      limiter.on(name, (payload: unknown) => events.push([name, payload]));
    }
  });

  afterAll(async () => {
    await limiter.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  });

  function options(id: string): http.RequestOptions {
    return { host: '127.0.0.1', port, path: '/', method: 'GET', agent, headers: { 'x-id': id } };
  }

  function get(id: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request(options(id), (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('B is aborted and removed from the queue; C is served when the first token refills', async () => {
    // A: served at once, emptying the bucket.
    const a = await within(get('A'), 2000, 'the answer to A');
    expect(a.status).toBe(200);
    expect(a.headers['ratelimit']).toBe('"default";r=0;t=1');
    const servedA = served.find((s) => s.id === 'A');
    expect(servedA).toBeDefined();

    // B: told to wait in the queue.
    const enqueued = once(limiter, 'enqueue').then(([e]) => e as LimiterEvents['enqueue']);
    const aborted = once(limiter, 'abort').then(([e]) => e as LimiterEvents['abort']);
    const b = http.request(options('B'));
    const bOutcome = new Promise<string>((resolve) => {
      b.on('response', () => resolve('response'));
      b.on('error', (error: NodeJS.ErrnoException) => resolve(`error:${error.code ?? error.message}`));
      b.on('close', () => resolve('close'));
    });
    b.end();
    const enqueue = await within(enqueued, 2000, "B's 'enqueue' event");
    expect(enqueue).toMatchObject({ key: '127.0.0.1', cost: 1, position: 0, queueSize: 1 });
    expect((await limiter.peek(enqueue.key)).queued).toBe(1);

    // B's client goes away: its take is aborted and leaves the queue.
    b.destroy();
    expect(await within(bOutcome, 2000, 'B to close')).not.toBe('response');
    const abort = await within(aborted, 2000, "B's 'abort' event");
    expect(abort).toMatchObject({ key: enqueue.key, cost: 1 });
    expect((await limiter.peek(enqueue.key)).queued).toBe(0);

    // C, sent after B left: waits only for the token A used, not behind B's cost.
    const c = await within(get('C'), 4000, 'the answer to C');
    expect(c.status).toBe(200);
    const servedC = served.find((s) => s.id === 'C');
    expect(servedC).toBeDefined();
    const gap = (servedC?.at ?? 0) - (servedA?.at ?? 0);
    expect(gap).toBeGreaterThan(800); // the token A took comes back 1 s after A
    expect(gap).toBeLessThan(1700); // had B's cost been debited, C would wait ~2 s
    expect(servedC?.waitedMs).toBeGreaterThan(0);

    // B never reached the route, was never admitted, and was rejected as aborted.
    expect(served.map((s) => s.id)).toEqual(['A', 'C']);
    const names = events.map(([name]) => name);
    expect(names).toEqual(['admit', 'enqueue', 'abort', 'reject', 'enqueue', 'dequeue', 'admit']);
    expect(events[3]?.[1]).toMatchObject({ reason: 'aborted', key: enqueue.key });
    expect((await limiter.peek(enqueue.key)).queued).toBe(0);
  });
});
