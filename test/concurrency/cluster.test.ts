// A cluster-wide concurrency limit across 3 real app processes on a real ZooKeeper ensemble: under load
// the requests in flight across all three (measured by the handlers themselves) never exceed the
// limit, every admitted request completes, and when a process holding permits is SIGKILLed,
// ZooKeeper releases them within about the session timeout.

import { ensureBuilt } from '../zookeeper/helpers/app-processes.js';
import { sharedOrPrivateEnsemble } from '../zookeeper/helpers/cluster.js';
import { removeRoot } from '../zookeeper/helpers/raw-client.js';
import { sleep, uniqueRoot, waitFor } from '../helpers/wait.js';
import { spawnConcurrencyApp, type ConcurrencyAppProcess } from './helpers/concurrency-apps.js';

jest.setTimeout(90_000);

const LIMIT = 5;
let ensemble: { connect: string; stop(): void };
const roots: string[] = [];
let apps: ConcurrencyAppProcess[] = [];

beforeAll(async () => {
  ensemble = sharedOrPrivateEnsemble('t-concurrency', 27500);
  await ensureBuilt();
}, 240_000);

afterEach(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  apps = [];
});

afterAll(async () => {
  for (const root of roots) await removeRoot(ensemble.connect, root).catch(() => undefined);
  ensemble.stop();
});

/** 3 app processes sharing one limit of LIMIT on a fresh root, all using ZooKeeper and seeing each other. */
async function startApps(label: string, sessionTimeout: string): Promise<ConcurrencyAppProcess[]> {
  const root = uniqueRoot(label);
  roots.push(root);
  apps = await Promise.all([0, 1, 2].map(() => spawnConcurrencyApp({ store: { connect: ensemble.connect, root, sessionTimeout }, concurrency: LIMIT, name: 'api' })));
  try {
    await waitFor(async () => (await Promise.all(apps.map((a) => a.stats()))).every((s) => s.available && s.members === 3), 20_000, '3 apps sharing ZooKeeper');
  } catch (error) {
    throw new Error(`${String(error)}\n${apps.map((a) => a.stderr()).join('\n')}`);
  }
  return apps;
}

/** The most intervals open at once (an interval that ends at the moment another starts does not overlap it). */
function maxOverlap(intervals: ReadonlyArray<{ start: number; end: number }>): number {
  const events = intervals.flatMap(({ start, end }) => [
    { at: start, delta: 1 },
    { at: end, delta: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let most = 0;
  for (const { delta } of events) {
    open += delta;
    most = Math.max(most, open);
  }
  return most;
}

test(`under load from 18 clients on 3 processes, at most ${LIMIT} requests are ever in flight, and every admitted one completes`, async () => {
  await startApps('conc-load', '6s');
  const admitted: Array<{ start: number; end: number; pid: number }> = [];
  const refused = { count: 0 };
  const failures: string[] = [];
  const until = performance.now() + 3000;
  // 6 clients per process, each sending slow requests back to back (a refused one retries after a few ms).
  const client = async (app: ConcurrencyAppProcess): Promise<void> => {
    while (performance.now() < until) {
      try {
        const reply = await app.get(`/work?ms=${20 + Math.floor(Math.random() * 40)}`);
        if (reply.status === 200) admitted.push(JSON.parse(reply.body) as { start: number; end: number; pid: number });
        else if (reply.status === 429) {
          refused.count++;
          await sleep(2 + Math.random() * 8);
        } else failures.push(`${reply.status} ${reply.body}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  await Promise.all(apps.flatMap((app) => Array.from({ length: 6 }, () => client(app))));

  expect(failures).toEqual([]);
  const peak = maxOverlap(admitted);
  expect(peak).toBeLessThanOrEqual(LIMIT);
  // The limit is shared, not split away: the cluster did run several requests at once, from every process.
  expect(peak).toBeGreaterThanOrEqual(3);
  expect(new Set(admitted.map((a) => a.pid)).size).toBe(3);
  expect(refused.count).toBeGreaterThan(0);
  // Every request a handler started, it finished, and its client got the answer.
  const stats = await Promise.all(apps.map((a) => a.stats()));
  expect(stats.reduce((n, s) => n + s.started, 0)).toBe(admitted.length);
  expect(stats.reduce((n, s) => n + s.finished, 0)).toBe(admitted.length);
  expect(stats.every((s) => s.inFlight === 0)).toBe(true);
  const perProcess = apps.map((app) => admitted.filter((a) => a.pid === app.pid).length);
  console.log(`concurrency ${LIMIT} on 3 processes: ${admitted.length} admitted (${perProcess.join(' / ')}), ${refused.count} refused, peak in flight ${peak}`);
});

test(`a process SIGKILLed while holding all ${LIMIT} permits: within about the session timeout the others can use all ${LIMIT} again`, async () => {
  const sessionTimeoutMs = 2000;
  const [doomed, left, right] = (await startApps('conc-kill', `${sessionTimeoutMs}ms`)) as [ConcurrencyAppProcess, ConcurrencyAppProcess, ConcurrencyAppProcess];
  for (let i = 0; i < LIMIT; i++) doomed.get(`/hold?id=doomed-${i}`, 60_000).catch(() => undefined);
  await waitFor(async () => (await doomed.stats()).holding.length === LIMIT, 10_000, `the doomed process holding ${LIMIT}`);
  expect((await left.get('/work?ms=0')).status).toBe(429);
  expect((await right.get('/work?ms=0')).status).toBe(429);

  await doomed.kill();
  const killedAt = performance.now();
  // Its session lives on until it times out: its permits still count.
  expect((await left.get('/work?ms=0')).status).toBe(429);

  // Take all the permits on the two survivors, retrying refusals, one request in flight at a time.
  let held = 0;
  for (let attempt = 0; held < LIMIT; attempt++) {
    expect(performance.now() - killedAt).toBeLessThan(sessionTimeoutMs + 6000);
    const app = attempt % 2 === 0 ? left : right;
    const id = `survivor-${attempt}`;
    let status: number | undefined;
    app
      .get(`/hold?id=${id}`, 60_000)
      .then((reply) => (status = reply.status))
      .catch(() => undefined);
    await waitFor(async () => status !== undefined || (await app.stats()).holding.includes(id), 5000, `an answer to ${id}`, 10);
    if (status === undefined) held++;
    else await sleep(50);
  }
  const recoveredMs = performance.now() - killedAt;
  console.log(`permits of the SIGKILLed process released after ${Math.round(recoveredMs)} ms (session timeout ${sessionTimeoutMs} ms)`);
  // ZooKeeper released them when the session expired, not before.
  expect(recoveredMs).toBeGreaterThan(sessionTimeoutMs / 2);
  // And the limit holds again among the survivors.
  expect((await left.get('/work?ms=0')).status).toBe(429);
  expect((await right.get('/work?ms=0')).status).toBe(429);
  const stats = await Promise.all([left.stats(), right.stats()]);
  expect(stats[0].inFlight + stats[1].inFlight).toBe(LIMIT);
  await Promise.all([left.get('/release'), right.get('/release')]);
});
