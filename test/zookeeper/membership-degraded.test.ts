// Membership and degraded basics, in-process stores on a real ensemble: stores on one root count each
// other (3, then 2 after a close); against an unreachable ZooKeeper, decisions come back within
// unavailableAfter with the outcome onUnavailable asks for ('open', 'closed' with 503 problem+json
// and Retry-After, 'local'); a store started before its ZooKeeper returns to shared mode by itself.

import http from 'node:http';
import express from 'express';
import { rateLimit } from '../../adapters/express/index.js';
import { createConcurrencyLimiter, createLimiter, DistributedQueue, FlowgateConfigError, TEMPORARY_REDUCED_CAPACITY, ZooKeeperStore, type ZooKeeperStoreEvents } from '../../src/index.js';
import { sharedOrPrivateEnsemble, startCluster, type Cluster } from './helpers/cluster.js';
import zookeeper from 'node-zookeeper-client';
import { RawClient, removeRoot } from './helpers/raw-client.js';
import { uniqueRoot, waitFor } from '../helpers/wait.js';

jest.setTimeout(60_000);

/** A closed port on 127.0.0.1: connections are refused at once. */
const UNREACHABLE = '127.0.0.1:1';
const UNAVAILABLE_AFTER_MS = 300;
/** Slack for scheduling on a loaded 2-core machine. */
const MARGIN_MS = 700;

let ensemble: { connect: string; stop(): void };
const root = uniqueRoot('membership');
const stores: ZooKeeperStore[] = [];
let late: Cluster | undefined;

beforeAll(() => {
  ensemble = sharedOrPrivateEnsemble('t-membership', 24260);
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await removeRoot(ensemble.connect, root).catch(() => undefined);
  ensemble.stop();
  late?.stop();
});

function newStore(options: Partial<ConstructorParameters<typeof ZooKeeperStore>[0]> & { connect: string }): ZooKeeperStore {
  const store = new ZooKeeperStore({ root, ...options });
  stores.push(store);
  return store;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

test('stores on one root count 3 members; when one closes the others count 2', async () => {
  const three = [0, 1, 2].map(() => newStore({ connect: ensemble.connect, root: `${root}/members` }));
  const counts: number[][] = three.map(() => []);
  three.forEach((s, i) => s.on('members', (e: ZooKeeperStoreEvents['members']) => counts[i]?.push(e.count)));
  await Promise.all(three.map((s) => s.ready(15_000)));
  await waitFor(() => three.every((s) => s.members === 3), 10_000, '3 members seen by every store');
  expect(three.map((s) => s.stats().members)).toEqual([3, 3, 3]);

  const [first, second, third] = three as [ZooKeeperStore, ZooKeeperStore, ZooKeeperStore];
  await third.close();
  const ms = await waitFor(() => first.members === 2 && second.members === 2, 10_000, 'the two remaining stores to count 2');
  console.log(`membership: a closed store left the count of the others after ${ms.toFixed(0)} ms`);
  expect(counts[0]).toContain(3);
  expect(counts[0]?.at(-1)).toBe(2);
  expect(counts[1]?.at(-1)).toBe(2);
});

test("a queue worker (a DistributedQueue on its own session, or a store with countAsMember: false) has a member node but does not count: the limiters' share is not cut", async () => {
  const at = `${root}/queue-workers`;
  const [a, b] = [0, 1].map(() => newStore({ connect: ensemble.connect, root: at })) as [ZooKeeperStore, ZooKeeperStore];
  const worker = newStore({ connect: ensemble.connect, root: at, countAsMember: false });
  const queue = new DistributedQueue({ connect: ensemble.connect, root: at, name: 'jobs' });
  try {
    await Promise.all([a.ready(15_000), b.ready(15_000), worker.ready(15_000), queue.size()]);
    const raw = await RawClient.connect(ensemble.connect);
    let nodes: string[] = [];
    try {
      // Four member nodes (two of them q-<id>), once every one is registered.
      await waitFor(async () => (nodes = await raw.getChildren(`${at}/members`)).length === 4, 10_000, 'four member nodes');
    } finally {
      raw.close();
    }
    expect(nodes.filter((n) => n.startsWith('q-'))).toHaveLength(2);
    await waitFor(() => a.members === 2 && b.members === 2 && worker.members === 2, 10_000, 'every store to count the 2 limiter members');
    // Before, the two queue-only sessions counted: 4, and each limiter process enforced rate / 4 while degraded.
    expect([a, b, worker].map((s) => s.stats().members)).toEqual([2, 2, 2]);
    // A store that does not count makes no decisions: a limiter or a concurrency limit on it is refused, naming the option.
    expect(() => createLimiter({ rate: 1, burst: 1, store: worker, name: 'on-worker' })).toThrow(FlowgateConfigError);
    expect(() => createLimiter({ rate: 1, burst: 1, store: worker, name: 'on-worker' })).toThrow(/countAsMember=false: a store that does not count as a member makes no rate-limit decisions/);
    expect(() => createConcurrencyLimiter({ concurrency: 1, store: worker, name: 'on-worker-c' })).toThrow(/countAsMember/);
    // The refused limiter's name was not taken: a counted store takes it.
    await createLimiter({ rate: 1, burst: 1, store: a, name: 'on-worker' }).close();
  } finally {
    await queue.close();
  }
});

describe('ZooKeeper unreachable (a closed port)', () => {
  test("'open': decisions admit, within unavailableAfter", async () => {
    const store = newStore({ connect: UNREACHABLE, onUnavailable: 'open', unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms` });
    const limiter = createLimiter({ rate: 1, interval: '1h', burst: 1, store, name: 'open' });
    const first = await timed(() => limiter.take('k'));
    expect(first.value.allowed).toBe(true);
    expect(first.ms).toBeLessThan(UNAVAILABLE_AFTER_MS + MARGIN_MS);
    // Later decisions do not wait again, and 'open' admits past the burst.
    for (let i = 0; i < 5; i++) {
      const next = await timed(() => limiter.take('k'));
      expect(next.value.allowed).toBe(true);
      expect(next.ms).toBeLessThan(MARGIN_MS);
    }
    expect(store.stats().available).toBe(false);
    console.log(`unreachable, 'open': first decision after ${first.ms.toFixed(0)} ms`);
  });

  test("'closed': decisions reject with reason 'unavailable', and Express answers 503 problem+json with Retry-After", async () => {
    const store = newStore({ connect: UNREACHABLE, onUnavailable: 'closed', unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms` });
    const limiter = createLimiter({ rate: 10, interval: '1s', burst: 10, store, name: 'closed' });
    const first = await timed(() => limiter.take('k'));
    expect(first.value).toMatchObject({ allowed: false, reason: 'unavailable' });
    expect(first.value.retryAfterMs).toBeGreaterThan(0);
    expect(first.ms).toBeLessThan(UNAVAILABLE_AFTER_MS + MARGIN_MS);

    const app = express();
    app.use(rateLimit({ limiter }));
    app.get('/', (_req, res) => void res.send('ok'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as { port: number }).port;
      const answer = await timed(() => get(port));
      expect(answer.ms).toBeLessThan(MARGIN_MS);
      expect(answer.value.status).toBe(503);
      expect(answer.value.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(answer.value.body)).toMatchObject({ type: TEMPORARY_REDUCED_CAPACITY, status: 503 });
      expect(Number(answer.value.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      server.close();
    }
  });

  test("'local' (default): each process enforces the limit by itself (1 member known: the whole limit)", async () => {
    const store = newStore({ connect: UNREACHABLE, unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms` });
    const limiter = createLimiter({ rate: 1, interval: '1h', burst: 4, store, name: 'local' });
    const decisions = [];
    for (let i = 0; i < 6; i++) decisions.push(await timed(() => limiter.take('k')));
    expect(decisions.map((d) => d.value.allowed)).toEqual([true, true, true, true, false, false]);
    expect(decisions.map((d) => d.value.reason)).toEqual([undefined, undefined, undefined, undefined, 'limited', 'limited']);
    expect(decisions[0]?.ms).toBeLessThan(UNAVAILABLE_AFTER_MS + MARGIN_MS);
    for (const d of decisions.slice(1)) expect(d.ms).toBeLessThan(MARGIN_MS);
  });
});

test("a store started before its ZooKeeper announces 'degraded', then uses ZooKeeper once it is up ('recovered'), with no restart", async () => {
  // A private standalone server that is not running yet (nothing listens on its port).
  const port = 24265;
  const store = newStore({ connect: `127.0.0.1:${port}`, root: `/t-late-${process.pid}`, onUnavailable: 'closed', unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms` });
  const events: string[] = [];
  store.on('degraded', () => events.push('degraded'));
  store.on('recovered', () => events.push('recovered'));
  const limiter = createLimiter({ rate: 1, interval: '1h', burst: 2, strict: true, store, name: 'late' });
  expect(await limiter.take('k')).toMatchObject({ allowed: false, reason: 'unavailable' });
  // Decisions follow onUnavailable, so operators must hear about it (within the probe period,
  // sessionTimeout / 3, plus unavailableAfter, plus slack).
  const degradedMs = await waitFor(() => events.includes('degraded'), 6_000, "'degraded' while ZooKeeper was never reachable").catch((error: Error) => error);

  late = startCluster('t-membership-late', 'standalone', port);
  const ms = await waitFor(() => store.stats().available, 20_000, 'the store to use ZooKeeper');
  console.log(`a store started before ZooKeeper became available ${ms.toFixed(0)} ms after the server was ready; events ${events.join(', ') || 'none'}`);
  expect(ms).toBeLessThan(10_000);
  expect((await limiter.take('k')).allowed).toBe(true);
  expect((await limiter.take('k')).allowed).toBe(true);
  expect(await limiter.take('k')).toMatchObject({ allowed: false, reason: 'limited' });
  expect(degradedMs).not.toBeInstanceOf(Error);
  expect(events).toEqual(['degraded', 'recovered']);
});

function get(port: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('a store whose registration is refused stays degraded, and registers by itself once allowed (no new session needed)', async () => {
  // The members node is read-only to everyone (and ADMIN, to give it back): the store's member node cannot be created, so its
  // registration fails the way one cut short by a lost connection does. Once the node is writable,
  // the store's recovery checks register again and it becomes available on the same session.
  const refused = `${root}/refused`;
  const readOnly = [new zookeeper.ACL(zookeeper.Permission.READ | zookeeper.Permission.ADMIN, new zookeeper.Id('world', 'anyone'))];
  const open = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('world', 'anyone'))];
  const raw = await RawClient.connect(ensemble.connect);
  try {
    for (const path of [root, refused]) await raw.create(path, Buffer.alloc(0)).catch(() => undefined);
    await raw.createWithAcls(`${refused}/members`, Buffer.alloc(0), readOnly);
    const store = newStore({ connect: ensemble.connect, root: refused, unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms` });
    // ZooKeeper answered: the error says what it refused, not that it is unreachable.
    await expect(store.ready(1500)).rejects.toThrow(/not ready within 1500 ms: ZooKeeper refused flowgate's registration .* NO_AUTH/);
    expect(store.stats().available).toBe(false);
    const sessionBefore = store.connection().session.sessionId();
    await raw.setACL(`${refused}/members`, open);
    await store.ready(5000);
    expect(store.stats()).toMatchObject({ available: true, members: 1 });
    expect(store.connection().session.sessionId()).toBe(sessionBefore);
  } finally {
    raw.close();
  }
});

test('a missing credential or a missing chroot is told as such (ready() and the degraded event), not as "not reachable"', async () => {
  const secured = `${root}-secured`;
  const owner = newStore({ connect: ensemble.connect, root: secured, auth: 'flowgate:secret' });
  await owner.ready(5000);
  const cases = [
    { label: 'no credential', options: { connect: ensemble.connect, root: secured }, expected: /NO_AUTH: .*`auth` option/ },
    { label: 'no chroot', options: { connect: `${ensemble.connect}${root}-no-such-chroot` }, expected: /NO_NODE: the chroot .*-no-such-chroot of `connect` does not exist/ },
  ];
  for (const { label, options, expected } of cases) {
    const store = newStore({ ...options, unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms` });
    const degraded = new Promise<string>((resolve) => store.once('degraded', (e: { reason: string }) => resolve(e.reason)));
    const error = await store.ready(1500).then(() => undefined, (e: unknown) => e as Error);
    const reason = await degraded;
    process.stdout.write(`[membership] ${label}: ready() rejected with "${error?.message}"; degraded: "${reason}"\n`);
    expect(error?.message).toMatch(expected);
    expect(reason).toMatch(expected);
  }
});
