// Strict mode (`strict: true`: every take is one compare-and-set on the shared bucket) across three
// OS processes on a real ensemble: 3 x 500 concurrent takes on a bucket of burst 100 with
// negligible refill admit exactly 100; and under sustained contention the refill rate is honoured.

import { ensureBuilt, spawnApp, waitUntilShared, type AppProcess, type BurstReport } from './helpers/app-processes.js';
import { sharedOrPrivateEnsemble } from './helpers/cluster.js';
import { RawClient, removeRoot } from './helpers/raw-client.js';
import { uniqueRoot } from '../helpers/wait.js';

jest.setTimeout(90_000);

let ensemble: { connect: string; stop(): void };
const root = uniqueRoot('strict');
const apps: AppProcess[] = [];

beforeAll(async () => {
  await ensureBuilt();
  ensemble = sharedOrPrivateEnsemble('t-strict', 24220);
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
});

afterAll(async () => {
  await removeRoot(ensemble.connect, root).catch(() => undefined);
  ensemble.stop();
});

async function startApps(limiter: { rate: number; interval: string; burst: number; name: string }): Promise<void> {
  const config = { store: { connect: ensemble.connect, root: `${root}/${limiter.name}` }, limiter: { ...limiter, strict: true } };
  apps.push(...(await Promise.all([0, 1, 2].map(() => spawnApp(config)))));
  await waitUntilShared(apps, 3);
}

test.each([
  // The issue's case: most takes find the bucket empty.
  [100, 'exact-100'],
  // Most takes succeed: 600 compare-and-sets contended by three processes.
  [600, 'exact-600'],
])('3 processes x 500 concurrent takes on burst %i (rate 1 per hour) admit exactly the burst', async (burst, name) => {
  await startApps({ rate: 1, interval: '1h', burst, name });
  const key = 'login:alice';
  const reports = await Promise.all(apps.map((a) => a.getJson<BurstReport>(`/burst?n=500&key=${encodeURIComponent(key)}`, 60_000)));
  const admitted = reports.reduce((sum, r) => sum + r.admitted, 0);
  const stats = await Promise.all(apps.map((a) => a.stats()));
  console.log(
    `strict exact (burst ${burst}): admitted ${admitted} of 1500 (per process ${reports.map((r) => r.admitted).join('/')}), ` +
      `rejections ${JSON.stringify(reports.map((r) => r.rejected))}, took ${reports.map((r) => r.ms.toFixed(0)).join('/')} ms, ` +
      `writes ${stats.map((s) => s.writes).join('/')}, conflicts ${stats.map((s) => s.conflicts).join('/')}; ` +
      `unavailable episodes (ms) ${stats.map((s) => `[${s.episodes.map((e) => (e.end - e.start).toFixed(0)).join(',')}]`).join(' ')}; ` +
      `degraded events ${JSON.stringify(stats.flatMap((s) => s.events.filter((e) => e.event === 'degraded').map((e) => e.reason)))}`,
  );
  for (const r of reports) {
    expect(r.errors).toEqual([]);
    // Every rejection is "over the limit", none a fallback because ZooKeeper was busy.
    expect(Object.keys(r.rejected)).toEqual(['limited']);
  }
  expect(admitted).toBe(burst);
  for (const s of stats) expect(s.episodes).toEqual([]);

  // The shared bucket agrees: (almost) nothing left, and it records its key.
  const raw = await RawClient.connect(ensemble.connect);
  try {
    const buckets = (await raw.descendants(`${root}/${name}/buckets`)).filter((p) => p.split('/').length === 7);
    expect(buckets).toHaveLength(1);
    const data = JSON.parse((await raw.getData(buckets[0] as string)).data.toString('utf8')) as { t: number; k: string };
    expect(data.k).toBe(key);
    expect(data.t).toBeLessThan(1);
  } finally {
    raw.close();
  }
});

test('3 processes contending on a strict bucket (rate 50/s, burst 10) for 5 s admit burst + rate x T within 5%', async () => {
  const rate = 50;
  const burst = 10;
  await startApps({ rate, interval: '1s', burst, name: 'sustained' });
  const key = 'sustained';
  const start = performance.now();
  const counts = await Promise.all(
    apps.map(async (app) => {
      let admitted = 0;
      // Each process keeps 5 takes going (in rounds) until 5 s have passed.
      while (performance.now() - start < 5_000) {
        const r = await app.getJson<BurstReport>(`/burst?n=5&key=${key}`);
        expect(r.errors).toEqual([]);
        expect(Object.keys(r.rejected).filter((reason) => reason !== 'limited')).toEqual([]);
        admitted += r.admitted;
      }
      return admitted;
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const admitted = counts.reduce((a, b) => a + b, 0);
  const bound = burst + rate * seconds;
  const stats = await Promise.all(apps.map((a) => a.stats()));
  console.log(
    `strict sustained: admitted ${admitted} (per process ${counts.join('/')}) in ${seconds.toFixed(2)} s; bound ${bound.toFixed(0)}; ` +
      `accuracy ${((admitted / bound) * 100).toFixed(1)}%; writes ${stats.map((s) => s.writes).join('/')}, conflicts ${stats.map((s) => s.conflicts).join('/')}`,
  );
  expect(admitted).toBeLessThanOrEqual(Math.ceil(bound));
  expect(admitted).toBeGreaterThanOrEqual(0.95 * bound);
});
