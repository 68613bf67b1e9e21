// `flowgate status` as a real process against a real ensemble: limiters, hot keys, cluster-queue waiters, queues, members (text, --json, --watch).

import { createLimiter, DistributedQueue, ZooKeeperStore, type Limiter } from '../../src/index.js';
import type { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';
import { ZnodePaths } from '../../src/stores/zookeeper/znode-paths.js';
import type { ClusterSnapshot, LimiterStatus } from '../../src/cli/cluster-snapshot.js';
import { waitFor } from '../helpers/wait.js';
import { describeRun, requireBuild, runCli, startCli } from './helpers/cli-process.js';
import { ensembleFor, type TestZooKeeper } from './helpers/cli-clusters.js';
import { dropRoot, EPHEMERAL, fillIfEmpty, fixtureSession, freshRoot } from './helpers/cli-fixtures.js';

jest.setTimeout(60_000);

let zk: TestZooKeeper;
let fixtures: ZooKeeperSession;
let store: ZooKeeperStore;
let queue: DistributedQueue;
const limiters: Limiter[] = [];
const waits: Promise<unknown>[] = [];
const root = freshRoot('status');

beforeAll(async () => {
  requireBuild();
  zk = ensembleFor('t-cli-status', 27300);
  fixtures = await fixtureSession(zk.connect);
  store = new ZooKeeperStore({ connect: zk.connect, root });
  await store.ready(15_000);
  const paths = new ZnodePaths(root);

  // 'api': strict (one compare-and-set per take), so that the bucket holds exactly what was taken.
  const api = createLimiter({ name: 'api', rate: 100, interval: '1h', burst: 100, strict: true, store });
  limiters.push(api);
  expect((await api.take('hot', { cost: 90 })).allowed).toBe(true);
  expect((await api.take('warm', { cost: 40 })).allowed).toBe(true);
  expect((await api.take('cold', { cost: 1 })).allowed).toBe(true);
  await fillIfEmpty(fixtures, paths.limiter('api'), { v: 1, name: 'api', rate: 100, intervalMs: 3_600_000, burst: 100, strict: false });

  // 'q': two takes wait in the cluster-wide queue, holding reservations (slots) in the bucket.
  const q = createLimiter({ name: 'q', rate: 1, interval: '10s', burst: 1, strict: true, store, queue: { maxSize: 10, maxWait: '30s' } });
  limiters.push(q);
  expect((await q.take('k')).allowed).toBe(true);
  for (let i = 0; i < 2; i++) waits.push(q.take('k'));
  await fillIfEmpty(fixtures, paths.limiter('q'), { v: 1, name: 'q', rate: 1, intervalMs: 10_000, burst: 1, strict: true });
  await waitFor(async () => {
    // The book's entries: [id, arrival, count, owed, ...].
    const data = JSON.parse(((await fixtures.getData(paths.bucket('q', 'k'))).data as Buffer).toString('utf8')) as { e?: [number, number, number][] };
    return (data.e ?? []).reduce((sum, [, , count]) => sum + count, 0) === 2;
  }, 10_000, 'two reservations in the bucket of q/k');

  // A DistributedQueue with 3 items.
  queue = new DistributedQueue({ store, name: 'jobs' });
  for (let i = 0; i < 3; i++) await queue.enqueue({ n: i });

  // A degraded member, as a newer store writes it (ephemeral, in the fixture session).
  const now = new Date().toISOString();
  const member = { host: 'degraded-host', pid: 4242, since: now, state: 'degraded', degradedSince: now, at: now, limiters: { api: { queued: 7, oldestWaitMs: 1500, policyVersion: null } } };
  await fixtures.create(`${paths.members}/test-member`, Buffer.from(JSON.stringify(member)), EPHEMERAL);
});

afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  await Promise.allSettled(waits);
  await queue?.close();
  await store?.close();
  await fixtures?.close();
  if (zk !== undefined) await dropRoot(zk.connect, root);
  zk?.stop();
});

function args(...extra: string[]): string[] {
  return ['status', '--zk', zk.connect, '--root', root, ...extra];
}

function limiter(snapshot: ClusterSnapshot, name: string): LimiterStatus {
  const found = snapshot.limiters.find((l) => l.name === name);
  if (found === undefined) throw new Error(`no limiter ${name} in ${JSON.stringify(snapshot.limiters.map((l) => l.name))}`);
  return found;
}

test('the table shows the limiters, the hot key with the fewest tokens first, the queue and the members, degraded ones apart', async () => {
  const result = await runCli(args());
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const out = result.stdout;
  expect(out).toMatch(/^members: 2 \(1 degraded\), limiters: 2, queues: 1$/m);
  expect(out).toMatch(/^LIMITERS\nname +rate +burst/m);
  expect(out).toMatch(/^api +100\/1h +100 /m);
  // Hot keys of api: fewest tokens first: hot (about 10), warm (about 60), cold (about 99).
  const hot = out.slice(out.indexOf('HOT KEYS of api'));
  expect(hot).toMatch(/^HOT KEYS of api: 3 of 3 buckets below burst/);
  const order = ['hot', 'warm', 'cold'].map((key) => hot.search(new RegExp(`^${key} `, 'm')));
  expect(order.every((i) => i > 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  expect(hot).toMatch(/^hot +10(\.\d+)? +100 +0\.028 +0$/m);
  // q/k owes tokens to its two waiters.
  expect(out).toMatch(/^k +-\d+(\.\d+)? +1 +0\.1 +2$/m);
  expect(out).toMatch(/^jobs +3 +0 +0 +\d/m);
  expect(out).toMatch(/^DEGRADED MEMBERS\n.*\ntest-member +degraded-host +4242 /m);
  const members = out.slice(out.indexOf('\nMEMBERS\n'), out.indexOf('DEGRADED MEMBERS'));
  expect(members).not.toContain('test-member');
});

test('--json has the figures', async () => {
  const result = await runCli(args('--json'));
  expect(result.code).toBe(0);
  const snapshot = JSON.parse(result.stdout) as ClusterSnapshot;
  expect(snapshot).toMatchObject({ v: 1, connect: zk.connect, root });
  expect(snapshot.members).toMatchObject({ count: 2, degraded: 1 });
  expect(snapshot.members.list.find((m) => m.id === 'test-member')).toMatchObject({ host: 'degraded-host', pid: 4242, state: 'degraded' });

  const api = limiter(snapshot, 'api');
  expect(api).toMatchObject({ rate: 100, intervalMs: 3_600_000, burst: 100, policy: null });
  expect(api.buckets).toEqual({ total: 3, scanned: 3, capped: false, belowBurst: 3, waiting: 0, unreadable: 0 });
  expect(api.hotKeys.map((k) => k.key)).toEqual(['hot', 'warm', 'cold']);
  const [hot] = api.hotKeys;
  // 10 tokens left, refilling at 100 per hour: a few hundredths more by now.
  expect(hot?.tokens).toBeGreaterThan(9.99);
  expect(hot?.tokens).toBeLessThan(11);
  expect(hot).toMatchObject({ burst: 100, waiting: 0 });
  expect(hot?.ratePerSec).toBeCloseTo(100 / 3600, 6);
  // Queued takes come from the members' reports: 7 from the degraded member.
  expect(api.queue).toEqual({ queued: 7, oldestWaitMs: 1500 });

  const q = limiter(snapshot, 'q');
  expect(q.hotKeys).toHaveLength(1);
  expect(q.hotKeys[0]).toMatchObject({ key: 'k', waiting: 2 });
  expect(q.hotKeys[0]?.tokens).toBeLessThan(0);
  expect(q.buckets.waiting).toBe(2);

  expect(snapshot.queues).toHaveLength(1);
  expect(snapshot.queues[0]).toMatchObject({ name: 'jobs', items: 3, inProgress: 0, dead: 0 });
  expect(snapshot.queues[0]?.oldestWaitMs).toBeGreaterThanOrEqual(0);
  expect(snapshot.clock.now).toBeGreaterThanOrEqual(snapshot.clock.zookeeperAtLeast ?? 0);
});

test('--keys bounds the hot keys; --scan-limit caps the scan and says so', async () => {
  const [one, capped] = await Promise.all([runCli(args('--json', '--keys', '1')), runCli(args('--scan-limit', '2'))]);
  expect(one.code).toBe(0);
  expect(limiter(JSON.parse(one.stdout) as ClusterSnapshot, 'api').hotKeys.map((k) => k.key)).toEqual(['hot']);
  expect(capped.code).toBe(0);
  expect(capped.stdout).toContain('(scan capped: read 2 of 3 buckets; --scan-limit reads more)');
  expect(capped.stdout).toMatch(/^api +100\/1h .* 3\+ /m);
});

test('--watch redraws in place until SIGINT, then exits 0', async () => {
  const cli = startCli(args('--watch', '--interval', '200ms'));
  const frames = (): number => cli.stdout().split('\x1b[2J').length - 1;
  await waitFor(() => frames() >= 2 || cli.child.exitCode !== null, 15_000, 'two frames');
  expect(frames()).toBeGreaterThanOrEqual(2);
  expect(cli.stdout()).toContain('HOT KEYS of api');
  expect(cli.child.kill('SIGINT')).toBe(true);
  const result = await cli.exited;
  expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
  expect(result.stdout).toContain('Ctrl-C to stop');
}, 30_000);

test('a limiter node without data is shown by its hash', async () => {
  const paths = new ZnodePaths(root);
  await fixtures.mkdirp(`${paths.limiter('anonymous')}/00`);
  try {
    const result = await runCli(args('--json'));
    expect(result.code).toBe(0);
    const snapshot = JSON.parse(result.stdout) as ClusterSnapshot;
    const hash = paths.limiter('anonymous').split('/').pop();
    expect(snapshot.limiters.find((l) => l.hash === hash)).toMatchObject({ name: null, rate: null, burst: null, hotKeys: [] });
    const text = await runCli(args());
    expect(text.stdout).toContain(`#${hash}`);
    expect(describeRun(text)).toContain('exit 0');
  } finally {
    await fixtures.remove(`${paths.limiter('anonymous')}/00`, -1);
    await fixtures.remove(paths.limiter('anonymous'), -1);
  }
});
