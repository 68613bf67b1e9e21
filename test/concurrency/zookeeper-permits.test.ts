// ZooKeeperPermitStore in-process, on a real ZooKeeper: stores on one root are members of one cluster.
// The limit holds across them, chunks spare ZooKeeper writes, idle permits go back, a member whose
// session ends has its permits released, and an unreachable ZooKeeper follows onUnavailable in time.

import { createConcurrencyLimiter, FlowgateConfigError, ZooKeeperPermitStore, ZooKeeperStore, type ConcurrencyLimiter, type PermitDecision } from '../../src/index.js';
import { decodePermits, encodePermits } from '../../src/stores/zookeeper/permit-codec.js';
import { permitPath } from '../../src/stores/zookeeper/zookeeper-permit-store.js';
import { sleep, uniqueRoot, waitFor } from '../helpers/wait.js';
import { startCluster } from '../zookeeper/helpers/cluster.js';
import { RawClient, removeRoot } from '../zookeeper/helpers/raw-client.js';

jest.setTimeout(60_000);

/** A closed port on 127.0.0.1: connections are refused at once. */
const UNREACHABLE = '127.0.0.1:1';
const root = uniqueRoot('permits');
let zk: { connect: string; stop(): void };
let raw: RawClient;
const stores: ZooKeeperStore[] = [];
const limiters: ConcurrencyLimiter[] = [];

beforeAll(async () => {
  const shared = process.env.FLOWGATE_ZK_STANDALONE;
  zk = shared !== undefined && shared !== '' ? { connect: shared, stop: () => undefined } : startCluster('t-concurrency-sa', 'standalone', 27550);
  raw = await RawClient.connect(zk.connect);
});

afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  raw.close();
  await removeRoot(zk.connect, root).catch(() => undefined);
  zk.stop();
});

/** `count` stores on one root (each a member, as separate processes would be), ready and seeing each other. */
async function members(count: number, sub: string): Promise<ZooKeeperStore[]> {
  const made = Array.from({ length: count }, () => new ZooKeeperStore({ connect: zk.connect, root: `${root}/${sub}`, sessionTimeout: '2s' }));
  stores.push(...made);
  await Promise.all(made.map((s) => s.ready(15_000)));
  await waitFor(() => made.every((s) => s.members === count), 10_000, `${count} members`);
  return made;
}

function limiterOn(store: ZooKeeperStore | ZooKeeperPermitStore, concurrency: number, name = 'p'): ConcurrencyLimiter {
  const limiter = createConcurrencyLimiter({ concurrency, name, store });
  limiters.push(limiter);
  return limiter;
}

/** Permits held in the znode of (name, key), by holder; {} when there is no znode. */
async function heldIn(sub: string, name: string, key: string): Promise<Record<string, number>> {
  try {
    return { ...decodePermits((await raw.getData(permitPath(`${root}/${sub}`, name, key))).data).held };
  } catch {
    return {};
  }
}

const sum = (held: Record<string, number>): number => Object.values(held).reduce((a, b) => a + b, 0);

test('two members share 5 permits: never more than 5 claimed or in flight; idle permits go back and the znode is removed', async () => {
  const [one, two] = await members(2, 'share');
  const limits = [limiterOn(one as ZooKeeperStore, 5), limiterOn(two as ZooKeeperStore, 5)];
  const held: PermitDecision[] = [];
  // Both members ask at once, several times each, until the 5 permits are in use.
  await waitFor(async () => {
    const round = await Promise.all([0, 1, 0, 1].map((i) => (limits[i] as ConcurrencyLimiter).acquire('k')));
    held.push(...round.filter((d) => d.allowed));
    const inFlight = limits[0]!.inFlight('k') + limits[1]!.inFlight('k');
    expect(inFlight).toBe(held.length);
    expect(inFlight).toBeLessThanOrEqual(5);
    expect(sum(await heldIn('share', 'p', 'k'))).toBeLessThanOrEqual(5);
    return held.length === 5;
  }, 10_000, '5 permits in use', 20);
  expect(limits[0]!.inFlight('k')).toBeGreaterThan(0);
  expect(limits[1]!.inFlight('k')).toBeGreaterThan(0);
  const znode = await heldIn('share', 'p', 'k');
  expect(Object.keys(znode)).toHaveLength(2);
  expect(sum(znode)).toBe(5);
  for (const limiter of limits) {
    const refused = await limiter.acquire('k');
    expect(refused.reason).toBe('concurrency');
    expect(refused.remaining).toBe(0);
  }

  for (const decision of held) decision.permit?.release();
  expect(limits[0]!.inFlight('k') + limits[1]!.inFlight('k')).toBe(0);
  // Sweeps (every 500 ms) give the idle permits back; nobody holds any, so the znode goes.
  await waitFor(async () => !(await raw.exists(permitPath(`${root}/share`, 'p', 'k'))), 5000, 'the permit znode removed');
});

test('the janitor deletes a permit znode once every holder and waiter is gone, and keeps one a live member holds', async () => {
  const storeRoot = `${root}/janitor`;
  const store = new ZooKeeperStore({ connect: zk.connect, root: storeRoot, sessionTimeout: '2s', cleanupAfter: '1s' });
  stores.push(store);
  await store.ready(15_000);
  const put = async (key: string, held: Record<string, number>, waiting: string[] = []): Promise<string> => {
    const path = permitPath(storeRoot, 'jan', key);
    // Parents first (the raw client has no mkdirp); then the znode as a permit store would write it.
    const parts = path.split('/').filter((p) => p !== '');
    for (let i = 1; i < parts.length; i++) await raw.create(`/${parts.slice(0, i).join('/')}`, Buffer.alloc(0)).catch(() => undefined);
    await raw.create(path, encodePermits({ key, max: 4, held, waiting }));
    return path;
  };
  const live = `${store.connection().memberId}~instance`;
  const stale = await put('stale', { 'gone-member~a': 2 }, ['other-gone~b']);
  const kept = await put('kept', { 'gone-member~a': 1, [live]: 1 });
  const waitedOn = await put('waited-on', {}, [live]);
  await waitFor(async () => !(await raw.exists(stale)), 15_000, 'the stale permit znode deleted');
  expect(await raw.exists(kept)).toBe(true);
  expect(await raw.exists(waitedOn)).toBe(true);
});

test('chunks: a claim covers several acquires, answered synchronously, with one ZooKeeper write', async () => {
  const [store] = await members(1, 'chunks');
  const permits = new ZooKeeperPermitStore(store as ZooKeeperStore);
  const limiter = limiterOn(permits, 10);
  expect(limiter.tryAcquireSync('k')).toBeUndefined(); // nothing claimed yet: the async path claims
  const first = await limiter.acquire('k');
  expect(first.allowed).toBe(true);
  expect(permits.counter.writes).toBe(1);
  // One member: a chunk is half the limit.
  expect(permits.held(limiter.policy, 'k')).toBe(5);
  for (let i = 0; i < 4; i++) expect(limiter.tryAcquireSync('k')?.allowed).toBe(true);
  expect(permits.counter.writes).toBe(1);
  expect(limiter.tryAcquireSync('k')).toBeUndefined();
  expect((await limiter.acquire('k')).allowed).toBe(true);
  expect(permits.counter.writes).toBe(2);
  expect(sum(await heldIn('chunks', 'p', 'k'))).toBe(10);
  await permits.close();
});

test('concurrent acquires of one member on an idle cluster: exactly the limit is admitted, however the claims interleave', async () => {
  // Only the first member asks; the others are there so that chunks are small (one permit each).
  const [one] = await members(3, 'burst');
  const limiter = limiterOn(one as ZooKeeperStore, 5);
  const decisions = await Promise.all(Array.from({ length: 8 }, () => limiter.acquire('k')));
  expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
  expect(decisions.filter((d) => !d.allowed).every((d) => d.reason === 'concurrency')).toBe(true);
});

test('a member whose session ends has its permits released by ZooKeeper: the others can use all of them', async () => {
  const [doomed, survivor] = await members(2, 'death');
  const dead = limiterOn(doomed as ZooKeeperStore, 5);
  const alive = limiterOn(survivor as ZooKeeperStore, 5);
  await waitFor(async () => (await dead.acquire('k')).allowed && dead.inFlight('k') === 5, 10_000, 'the doomed member holding all 5', 10);
  expect((await alive.acquire('k')).reason).toBe('concurrency');
  // Its session ends without giving anything back (as when the process is killed); its member node goes with it.
  await (doomed as ZooKeeperStore).close();
  const got: PermitDecision[] = [];
  await waitFor(async () => {
    const decision = await alive.acquire('k');
    if (decision.allowed) got.push(decision);
    return got.length === 5;
  }, 10_000, 'the survivor holding all 5', 20);
  const znode = await heldIn('death', 'p', 'k');
  expect(Object.keys(znode)).toHaveLength(1);
  expect(sum(znode)).toBe(5);
});

describe.each(['local', 'open', 'closed'] as const)("ZooKeeper unreachable, onUnavailable: '%s'", (policy) => {
  test('acquires are decided within unavailableAfter, as the policy says', async () => {
    const store = new ZooKeeperStore({ connect: UNREACHABLE, root, onUnavailable: policy, unavailableAfter: 300 });
    stores.push(store);
    const limiter = limiterOn(store, 3);
    const start = performance.now();
    const decisions = await Promise.all([1, 2, 3, 4].map(() => limiter.acquire('k')));
    expect(performance.now() - start).toBeLessThan(300 + 700);
    const allowed = decisions.filter((d) => d.allowed).length;
    if (policy === 'open') expect(allowed).toBe(4);
    if (policy === 'closed') {
      expect(allowed).toBe(0);
      expect(decisions.every((d) => d.reason === 'unavailable')).toBe(true);
    }
    if (policy === 'local') {
      // One member known: this process enforces the whole limit by itself.
      expect(allowed).toBe(3);
      expect(decisions.find((d) => !d.allowed)?.reason).toBe('concurrency');
      decisions.find((d) => d.allowed)?.permit?.release();
      expect((await limiter.acquire('k')).allowed).toBe(true);
    }
    // Later acquires do not wait again: decided before a timer shorter than unavailableAfter fires.
    // (Not a bound on elapsed time: a stall of the host's scheduler of 200 ms would break one, while
    // a decision that waits for no timer always comes first, and one that waits again takes 300 ms.)
    const decidedFirst = await Promise.race([limiter.acquire('other').then(() => 'decided'), sleep(250).then(() => 'waited')]);
    expect(decidedFirst).toBe('decided');
  });
});

describe('ZooKeeperPermitStore options and close (no server needed)', () => {
  test.each([
    ['unavailableAfter', 0],
    ['returnAfter', '2h'],
  ])('%s: %p is refused, naming the option and the value', async (option, value) => {
    const store = new ZooKeeperStore({ connect: UNREACHABLE, root });
    stores.push(store);
    let caught: unknown;
    try {
      new ZooKeeperPermitStore(store, { [option]: value });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlowgateConfigError);
    expect((caught as FlowgateConfigError).option).toBe(option);
  });

  test("a closed permit store refuses ('closed'), even with onUnavailable 'open'", async () => {
    const store = new ZooKeeperStore({ connect: UNREACHABLE, root, onUnavailable: 'open', unavailableAfter: 100 });
    stores.push(store);
    const permits = new ZooKeeperPermitStore(store);
    await permits.close();
    expect(await permits.acquire({ name: 'p', max: 3 }, 'k')).toMatchObject({ acquired: false, reason: 'closed' });
  });
});
