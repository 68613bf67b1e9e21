// Priorities in the cluster-wide overflow queue (issue 6) on three OS processes and a real ensemble:
// each process serves its high-priority takes ahead of its own waiting low-priority ones (turns are
// re-ranked within a process, not across processes: see the README), and every take is served.

import { ensureBuilt, spawnApp, waitUntilShared, type AppProcess } from './helpers/app-processes.js';
import { sharedOrPrivateEnsemble } from './helpers/cluster.js';
import { removeRoot } from './helpers/raw-client.js';
import { uniqueRoot } from '../helpers/wait.js';

jest.setTimeout(90_000);

interface TakeAnswer {
  allowed: boolean;
  reason: string | null;
  waitedMs: number;
  arrivedAt: number;
  admittedAt: number;
  pid: number;
}

let ensemble: { connect: string; stop(): void };
const root = uniqueRoot('priority');
const apps: AppProcess[] = [];

beforeAll(async () => {
  await ensureBuilt();
  ensemble = sharedOrPrivateEnsemble('t-priority', 24280);
  const config = { store: { connect: ensemble.connect, root }, limiter: { name: 'prio', rate: 20, interval: '1s', burst: 1, queue: { maxSize: 1000, maxWait: '30s' } } };
  apps.push(...(await Promise.all([0, 1, 2].map(() => spawnApp(config)))));
  await waitUntilShared(apps, 3);
});

afterAll(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
  await removeRoot(ensemble.connect, root).catch(() => undefined);
  ensemble.stop();
});

test("3 processes: 90 low-priority takes queue, then 15 high-priority ones take their own process's earliest turns; every take is served", async () => {
  const take = (app: AppProcess, priority: number): Promise<TakeAnswer & { priority: number }> =>
    // fetch (one connection per request): the apps' own helper allows only 4 requests in flight each.
    fetch(`http://127.0.0.1:${app.port}/take?key=shared&priority=${priority}`, { signal: AbortSignal.timeout(60_000) })
      .then((r) => r.json() as Promise<TakeAnswer>)
      .then((a) => ({ ...a, priority }));
  const lows = apps.flatMap((app) => Array.from({ length: 30 }, () => take(app, 0)));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const highs = apps.flatMap((app) => Array.from({ length: 5 }, () => take(app, 5)));
  const all = await Promise.all([...lows, ...highs]);
  const low = all.filter((a) => a.priority === 0);
  const high = all.filter((a) => a.priority === 5);
  // Per process: lows of that process still waiting when its highs came, yet served before its last high.
  let overtakingLows = 0;
  let stillWaiting = 0;
  for (const pid of new Set(all.map((a) => a.pid))) {
    const mineHigh = high.filter((a) => a.pid === pid);
    const arrived = Math.min(...mineHigh.map((a) => a.arrivedAt));
    const lastHigh = Math.max(...mineHigh.map((a) => a.admittedAt));
    const waitingLows = low.filter((a) => a.pid === pid && a.admittedAt > arrived + 20);
    stillWaiting += waitingLows.length;
    overtakingLows += waitingLows.filter((a) => a.admittedAt < lastHigh).length;
  }
  const maxHighWait = Math.max(...high.map((a) => a.waitedMs));
  const maxLowWait = Math.max(...low.map((a) => a.waitedMs));
  console.log(
    `[priority] 90 low (p0) then 15 high (p5) over 3 processes at 20/s: high waited max ${maxHighWait.toFixed(0)} ms, low max ${maxLowWait.toFixed(0)} ms; ` +
      `per process, of ${stillWaiting} lows still waiting when its highs arrived, ${overtakingLows} were served before its last high`,
  );
  expect(all.every((a) => a.allowed)).toBe(true);
  expect(stillWaiting).toBeGreaterThan(40);
  // Each process hands its highs the earliest turns of its own waiting lows.
  expect(overtakingLows).toBe(0);
});
