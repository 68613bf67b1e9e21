// `flowgate reset` as a real process against a real ensemble: the key's bucket znode goes, and the limiter sees the key full again.

import { createLimiter, ZooKeeperStore, type Decision, type Limiter } from '../../src/index.js';
import type { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';
import { ZnodePaths } from '../../src/stores/zookeeper/znode-paths.js';
import { describeRun, requireBuild, runCli, type CliResult } from './helpers/cli-process.js';
import { ensembleFor, type TestZooKeeper } from './helpers/cli-clusters.js';
import { dropRoot, fixtureSession, freshRoot } from './helpers/cli-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { bookedWaiters } from '../queue/helpers/booked-waiters.js';

jest.setTimeout(60_000);

let zk: TestZooKeeper;
let fixtures: ZooKeeperSession;
let store: ZooKeeperStore;
let limiter: Limiter;
const root = freshRoot('reset');
const paths = new ZnodePaths(root);

beforeAll(async () => {
  requireBuild();
  zk = ensembleFor('t-cli-reset', 27310);
  fixtures = await fixtureSession(zk.connect);
  store = new ZooKeeperStore({ connect: zk.connect, root });
  await store.ready(15_000);
  limiter = createLimiter({ name: 'login', rate: 5, interval: '1h', burst: 5, strict: true, store });
});

afterAll(async () => {
  await limiter?.close();
  await store?.close();
  await fixtures?.close();
  if (zk !== undefined) await dropRoot(zk.connect, root);
  zk?.stop();
});

function reset(...extra: string[]): Promise<CliResult> {
  return runCli(['reset', ...extra, '--zk', zk.connect, '--root', root]);
}

test('reset removes the bucket: the key is full again for the limiter; a second reset finds nothing (exit 0 both)', async () => {
  const key = 'user:42/ümlaut';
  expect((await limiter.take(key, { cost: 5 })).allowed).toBe(true);
  expect((await limiter.take(key)).allowed).toBe(false);
  expect((await limiter.peek(key)).remaining).toBe(0);
  expect(await fixtures.exists(paths.bucket('login', key))).not.toBeNull();

  const first = await reset('login', key);
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/^reset key 'user:42\/ümlaut' of limiter 'login': bucket removed \(it held 0(\.0\d)? of 5 tokens\); the key is full again$/m);
  expect(await fixtures.exists(paths.bucket('login', key))).toBeNull();
  expect((await limiter.peek(key)).remaining).toBe(5);
  // The process that was refused sees the reset at once (it watches a bucket it holds back on):
  // strict mode's memory of the short bucket is dropped when the znode goes.
  await waitFor(async () => (await limiter.take(key, { cost: 1 })).allowed, 5_000, 'the refused process to admit again after the reset', 50);
  await limiter.reset(key);
  // Another process admits the whole burst again.
  const other = new ZooKeeperStore({ connect: zk.connect, root });
  const otherLimiter = createLimiter({ name: 'login', rate: 5, interval: '1h', burst: 5, strict: true, store: other });
  try {
    await other.ready(15_000);
    expect((await otherLimiter.take(key, { cost: 5 })).allowed).toBe(true);
  } finally {
    await otherLimiter.close();
    await other.close();
  }

  await limiter.reset(key);
  const again = await reset('login', key, '--json');
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toEqual({ limiter: 'login', key, existed: false, tokensBefore: null, burst: null, waiting: 0 });
});

test('--json says what was removed', async () => {
  expect((await limiter.take('k', { cost: 3 })).allowed).toBe(true);
  const result = await reset('login', 'k', '--json');
  expect(result.code).toBe(0);
  const parsed = JSON.parse(result.stdout) as { existed: boolean; tokensBefore: number; burst: number };
  expect(parsed).toMatchObject({ limiter: 'login', key: 'k', existed: true, burst: 5, waiting: 0 });
  expect(parsed.tokensBefore).toBeGreaterThanOrEqual(2);
  expect(parsed.tokensBefore).toBeLessThan(2.1);
});

test('an unknown limiter is exit 4 (a typo, most likely); a known one without the key is exit 0', async () => {
  const unknown = await reset('logni', 'k');
  expect(unknown.code).toBe(4);
  expect(unknown.stderr).toContain(`no limiter 'logni' under ${root}`);
  const known = await reset('login', 'never-seen');
  expect(known.code).toBe(0);
  expect(known.stdout).toContain("key 'never-seen' of limiter 'login' had no bucket: it is full already");
  expect(describeRun(known)).toContain('exit 0');
});

/**
 * A limit of one token per `intervalMs`, burst 3, with a queue, on a store of its own; its burst
 * spent, and `waiting` takes booked. The interval is the margin a test has between the booking and
 * its reset before the refill pays a waiter (and `waiting` is one less): a CLI run before the reset
 * takes 0.5-2 s on a loaded host.
 */
async function withBookedWaiters(
  name: string,
  waiting: number,
  intervalMs: number,
  run: (booked: { waiters: Array<Promise<{ d: Decision; at: number }>>; order: number[]; bucket: string; spentFrom: number }) => Promise<void>,
): Promise<void> {
  const queued = new ZooKeeperStore({ connect: zk.connect, root });
  const limit = createLimiter({ name, rate: 1, interval: intervalMs, burst: 3, queue: { maxSize: 50, maxWait: '5m' }, store: queued });
  try {
    await queued.ready(15_000);
    // The burst is spent at the first of these takes at the earliest: no refill is due before an interval after this.
    const spentFrom = performance.now();
    for (let i = 0; i < 3; i++) expect((await limit.take('k')).allowed).toBe(true);
    const order: number[] = [];
    const waiters = Array.from({ length: waiting }, (_, i) =>
      limit.take('k').then((d) => {
        order.push(i);
        return { d, at: performance.now() };
      }),
    );
    const bucket = paths.bucket(name, 'k');
    await waitFor(async () => (await bookedWaiters(fixtures, bucket)) === waiting, 5_000, `the ${waiting} waiters booked`);
    await run({ waiters, order, bucket, spentFrom });
  } finally {
    await limit.close();
    await queued.close();
  }
}

/**
 * The burst of 3 paid the first three waiters at once after the reset (at the latest); the fourth
 * waits for a refill: its turn is at least one interval after the burst was first spent. (Measured
 * from the reset it is not fixed: the refill before the reset, while the CLI process ran, counts.)
 */
function expectBurstPaidFirst(served: ReadonlyArray<{ d: Decision; at: number }>, resetAt: number, spentFrom: number, intervalMs: number): void {
  expect(served.every((s) => s.d.allowed)).toBe(true);
  expect((served[2]?.at ?? Number.NaN) - resetAt).toBeLessThan(700);
  expect((served[3]?.at ?? Number.NaN) - spentFrom).toBeGreaterThan(intervalMs - 100);
}

test('with waiters of the cluster-wide queue booked: the bucket stays, they keep their order and get the full burst first', async () => {
  // The 5 waiters are due 2 to 10 s after the burst is spent.
  await withBookedWaiters('api', 5, 2_000, async ({ waiters, order, bucket, spentFrom }) => {
    const result = await reset('api', 'k');
    const resetAt = performance.now();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^reset key 'k' of limiter 'api' \(it held -\d+(\.\d+)? of 3 tokens\): full again; the 5 waiters of its queue keep their order and are paid from the full burst first$/m);
    expect(await fixtures.exists(bucket)).not.toBeNull();
    // The burst of 3 paid the first three at once (their turns were 2 to 6 s away); the other two
    // wait for the refill. On the previous code the znode went and they all kept their old turns.
    expectBurstPaidFirst(await Promise.all(waiters), resetAt, spentFrom, 2_000);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });
});

test('waiters booked in a bucket an older flowgate wrote (no burst or rate in it): paid from the burst in the limiter node, or not reset at all; never deleted under them', async () => {
  await withBookedWaiters('older', 4, 5_000, async ({ waiters, bucket, spentFrom }) => {
    /** Rewrites the bucket's data as a release without `b`/`r` wrote it. */
    const asOlderRelease = async (): Promise<void> => {
      const { data, stat } = await fixtures.getData(bucket);
      const parsed = JSON.parse(String(data)) as Record<string, unknown>;
      delete parsed.b;
      delete parsed.r;
      await fixtures.setData(bucket, Buffer.from(JSON.stringify(parsed)), stat.version);
    };
    // The limiter's node says what the processes run (written at their first sweep).
    await waitFor(async () => String((await fixtures.getData(paths.limiter('older'))).data).includes('"burst":3'), 5_000, "the limiter's node written");

    // Its node, as a release before 'b'/'r' wrote it, and a limiter node that says nothing either: not reset.
    const { data: limiterData } = await fixtures.getData(paths.limiter('older'));
    await fixtures.setData(paths.limiter('older'), Buffer.alloc(0), -1);
    await asOlderRelease();
    const refused = await reset('older', 'k');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the bucket of key 'k' of limiter 'older' has waiters booked, but neither it, a published policy nor the limiter's node says its burst and rate");
    expect(await fixtures.exists(bucket)).not.toBeNull();

    // With the limiter's node back: its burst pays the waiters, and the znode stays.
    await fixtures.setData(paths.limiter('older'), limiterData ?? Buffer.alloc(0), -1);
    await asOlderRelease();
    const done = await reset('older', 'k', '--json');
    const resetAt = performance.now();
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ existed: true, burst: 3, waiting: 4 });
    expect(await fixtures.exists(bucket)).not.toBeNull();
    expectBurstPaidFirst(await Promise.all(waiters), resetAt, spentFrom, 5_000);
  });
});
