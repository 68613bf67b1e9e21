// skipSuccessfulRequests / skipFailedRequests on flowgate/express: the client that goes away, a requestWasSuccessful that throws, bad options, and a login limit shared through a real ZooKeeper.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from '../../adapters/express/index.js';
import { FlowgateConfigError, ZooKeeperStore, type Limiter } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';

jest.setTimeout(30_000);

const zk = standaloneForFile('t-count-outcome', 27880, 'countoutcome');

interface Running {
  readonly base: string;
  close(): Promise<void>;
}

/** An Express app on 127.0.0.1 with `middleware` on every route: `/ok` (200), `/denied` (401), `/slow` (answers after 2 s). */
async function serve(middleware: RequestHandler): Promise<Running> {
  const app = express();
  app.use(middleware);
  app.get('/ok', (_req, res) => void res.send('ok'));
  app.get('/denied', (_req, res) => void res.status(401).send('no'));
  app.get('/slow', (_req, res) => void setTimeout(() => res.send('late'), 2_000).unref());
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function status(url: string): Promise<number> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status;
}

/** The remaining tokens of the loopback client's key. */
async function remaining(limiter: Limiter): Promise<number> {
  return (await limiter.peek('127.0.0.1')).remaining;
}

test('skipFailedRequests: an admitted request whose client went away before the answer gives its token back', async () => {
  const middleware = rateLimit({ rate: 1, interval: '1h', burst: 2, skipFailedRequests: true });
  const app = await serve(middleware);
  try {
    const admitted = once(middleware.limiter, 'admit');
    const request = http.get(`${app.base}/slow`);
    request.on('error', () => undefined);
    await admitted;
    expect(await remaining(middleware.limiter)).toBe(1);
    request.destroy();
    await waitFor(async () => (await remaining(middleware.limiter)) === 2, 5_000, "the token of the request whose client left given back");
    // A success counts: the burst of 2 is spent by two of them.
    expect(await status(`${app.base}/ok`)).toBe(200);
    expect(await status(`${app.base}/ok`)).toBe(200);
    expect(await status(`${app.base}/ok`)).toBe(429);
  } finally {
    await app.close();
    await middleware.limiter.close();
  }
});

test('a requestWasSuccessful that throws: the request counts, and a process warning names the option', async () => {
  const warnings: Array<{ message: unknown; type: unknown }> = [];
  const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(((message: unknown, type: unknown) => void warnings.push({ message, type })) as typeof process.emitWarning);
  const middleware = rateLimit({
    rate: 1,
    interval: '1h',
    burst: 3,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (req) => {
      if (req.path === '/denied') throw new Error('cannot tell');
      return true;
    },
  });
  const app = await serve(middleware);
  try {
    expect(await status(`${app.base}/ok`)).toBe(200);
    expect(await status(`${app.base}/denied`)).toBe(401);
    await waitFor(() => warnings.length > 0, 5_000, 'the warning');
    expect(warnings[0]?.type).toBe('FlowgateWarning');
    expect(warnings[0]?.message).toBe('flowgate: requestWasSuccessful failed (cannot tell); the request counts against its limit');
    // The success gave its token back; the request whose outcome could not be told kept its token.
    await waitFor(async () => (await remaining(middleware.limiter)) === 2, 5_000, 'two tokens left');
  } finally {
    emitWarning.mockRestore();
    await app.close();
    await middleware.limiter.close();
  }
});

test("requestWasSuccessful gets Express's own res, typed so (express-rate-limit's signature): res.locals tells a failed login", async () => {
  const middleware = rateLimit({
    rate: 1,
    interval: '1h',
    burst: 2,
    skipSuccessfulRequests: true,
    // Typed (req: Request, res: Response), as express-rate-limit's users write it.
    requestWasSuccessful: (_req: Request, res: Response) => res.locals.loginOk === true,
  });
  const app = express();
  app.use(middleware);
  // Both answer 200: only the app knows which login failed.
  app.get('/login/:password', (req, res) => {
    res.locals.loginOk = req.params.password === 'secret';
    res.send(res.locals.loginOk ? 'welcome' : 'try again');
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (let i = 0; i < 3; i++) {
      expect(await status(`${base}/login/secret`)).toBe(200);
      await waitFor(async () => (await remaining(middleware.limiter)) === 2, 5_000, 'the good login given back');
    }
    expect(await status(`${base}/login/guess`)).toBe(200);
    await waitFor(async () => (await remaining(middleware.limiter)) === 1, 5_000, 'the failed login counted, the good ones given back');
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await middleware.limiter.close();
  }
});

test('a requestWasSuccessful that answers with a thenable of another promise library is awaited like a promise', async () => {
  // A thenable that is no native Promise (as Bluebird's are): it says every request succeeded.
  const thenable = { then: (resolve: (value: boolean) => void) => void setTimeout(() => resolve(true), 10) } as unknown as Promise<boolean>;
  const middleware = rateLimit({ rate: 1, interval: '1h', burst: 2, skipSuccessfulRequests: true, requestWasSuccessful: () => thenable });
  const app = await serve(middleware);
  try {
    // Three requests on a burst of 2, each given back (the thenable settles 10 ms after the response).
    for (let i = 0; i < 3; i++) {
      expect(await status(`${app.base}/ok`)).toBe(200);
      await waitFor(async () => (await remaining(middleware.limiter)) === 2, 5_000, 'the token given back');
    }
  } finally {
    await app.close();
    await middleware.limiter.close();
  }
});

test('bad options fail at construction, naming the option and the value', () => {
  const attempt = (options: Record<string, unknown>): unknown => {
    try {
      const middleware = rateLimit({ rate: 1, ...options } as Parameters<typeof rateLimit>[0]);
      void middleware.limiter?.close();
      return undefined;
    } catch (error) {
      return error;
    }
  };
  const both = attempt({ skipSuccessfulRequests: true, skipFailedRequests: true });
  expect(both).toBeInstanceOf(FlowgateConfigError);
  expect(String((both as Error).message)).toContain('skipFailedRequests');
  expect(String((both as Error).message)).toContain('no request would count');
  expect(String((attempt({ skipFailedRequests: 'yes' }) as Error).message)).toMatch(/skipFailedRequests.*"yes".*must be true or false/);
  expect(String((attempt({ requestWasSuccessful: () => true }) as Error).message)).toMatch(/requestWasSuccessful.*has no effect without skipSuccessfulRequests or skipFailedRequests/);
  expect(String((attempt({ skipSuccessfulRequests: true, requestWasSuccessful: 200 }) as Error).message)).toMatch(/requestWasSuccessful.*200.*must be a function/);
  const concurrencyOnly = (() => {
    try {
      rateLimit({ concurrency: 2, skipSuccessfulRequests: true });
      return undefined;
    } catch (error) {
      return error as Error;
    }
  })();
  expect(concurrencyOnly).toBeInstanceOf(FlowgateConfigError);
  expect(concurrencyOnly?.message).toMatch(/skipSuccessfulRequests.*only `concurrency` is given/);
});

test('a strict login limit shared by two apps through ZooKeeper counts only the failed logins of both', async () => {
  const stores = [new ZooKeeperStore({ connect: zk.connect, root: zk.root }), new ZooKeeperStore({ connect: zk.connect, root: zk.root })];
  const middlewares = stores.map((store) =>
    rateLimit({ name: 'login', rate: 3, interval: '1h', burst: 3, strict: true, store, key: () => 'alice', skipSuccessfulRequests: true }),
  );
  const apps: Running[] = [];
  try {
    await Promise.all(stores.map((store) => store.ready(15_000)));
    apps.push(...(await Promise.all(middlewares.map((middleware) => serve(middleware)))));
    const [a, b] = apps as [Running, Running];
    const [limitA, limitB] = middlewares.map((middleware) => middleware.limiter) as [Limiter, Limiter];
    // Successful logins on both apps: each token goes back to the shared bucket.
    // (Each waited for: the token comes back as the response closes, which the client may outrun.)
    for (let i = 0; i < 4; i++) {
      expect(await status(`${(i % 2 === 0 ? a : b).base}/ok`)).toBe(200);
      await waitFor(async () => (await limitB.peek('alice')).remaining === 3, 5_000, 'the shared bucket full again');
    }
    // Failed logins on both apps count against the one limit: the fourth is refused, on either app.
    expect(await status(`${a.base}/denied`)).toBe(401);
    expect(await status(`${b.base}/denied`)).toBe(401);
    expect(await status(`${a.base}/denied`)).toBe(401);
    await waitFor(async () => (await limitA.peek('alice')).remaining === 0, 5_000, 'three failures counted');
    expect(await status(`${b.base}/ok`)).toBe(429);
    expect(await status(`${a.base}/denied`)).toBe(429);
  } finally {
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(middlewares.map((middleware) => middleware.limiter.close()));
    await Promise.all(stores.map((store) => store.close()));
  }
});

test.each([false, true])('ZooKeeper (strict %s): a success given back while a request waits in the queue serves the waiter, and the next request is not refused', async (strict) => {
  const store = new ZooKeeperStore({ connect: zk.connect, root: zk.root });
  // One token per 2 s: the second request is booked for its turn 2 s on; the third, behind it, past maxWait.
  const middleware = rateLimit({ name: `waiters-${strict}`, rate: 1, interval: '2s', burst: 1, strict, store, key: () => 'k', queue: { maxSize: 5, maxWait: '3s' }, skipSuccessfulRequests: true });
  const app = express();
  app.use(middleware);
  app.get('/ok', (_req, res) => void setTimeout(() => res.send('ok'), 300).unref());
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await store.ready(15_000);
    const started = Date.now();
    const timed = (): Promise<{ status: number; ms: number }> => status(`${base}/ok`).then((code) => ({ status: code, ms: Date.now() - started }));
    const first = timed();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = timed();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const third = timed();
    const answers = await Promise.all([first, second, third]);
    // The first success (at ~300 ms) gives its token back: the second is served then (its answer
    // ~300 ms later), not at its booked turn (2 s); so is the third, after the second's success.
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect((answers[1] as { ms: number }).ms).toBeLessThan(1_500);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await middleware.limiter.close();
    await store.close();
  }
});
