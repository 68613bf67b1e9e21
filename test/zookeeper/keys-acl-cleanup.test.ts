// Bucket znodes on a real ensemble, inspected with a raw node-zookeeper-client: hostile keys each get
// their own bucket and keep the original key in the data; digest auth makes flowgate's znodes
// read-only to everyone else (NoAuth, -102, on writes); a missing shard parent is made with its
// bucket in one multi; idle buckets are deleted, and shard parents stay bounded (256 per limiter).

import { createLimiter, ZooKeeperStore, type Limiter } from '../../src/index.js';
import { sharedOrPrivateEnsemble } from './helpers/cluster.js';
import { codeOf, RawClient, removeRoot } from './helpers/raw-client.js';
import { uniqueRoot, waitFor } from '../helpers/wait.js';

jest.setTimeout(60_000);

const NO_AUTH = -102;
const AUTH = 'flowgate:secret';

let ensemble: { connect: string; stop(): void };
let raw: RawClient;
const root = uniqueRoot('keys-acl-cleanup');
const stores: ZooKeeperStore[] = [];

beforeAll(async () => {
  ensemble = sharedOrPrivateEnsemble('t-keys-acl-cleanup', 24250);
  raw = await RawClient.connect(ensemble.connect);
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  raw?.close();
  await removeRoot(ensemble.connect, root, AUTH).catch(() => undefined);
  ensemble.stop();
});

async function newStore(options: Partial<ConstructorParameters<typeof ZooKeeperStore>[0]> & { root: string }): Promise<ZooKeeperStore> {
  const store = new ZooKeeperStore({ connect: ensemble.connect, ...options });
  stores.push(store);
  await store.ready(15_000);
  return store;
}

/** Bucket znodes of one store root: `<root>/buckets/<limiter>/<shard>/<bucket>`. */
async function bucketsUnder(storeRoot: string): Promise<string[]> {
  if (!(await raw.exists(`${storeRoot}/buckets`))) return [];
  const depth = storeRoot.split('/').length + 4;
  return (await raw.descendants(`${storeRoot}/buckets`)).filter((p) => p.split('/').length === depth);
}

const HOSTILE_KEYS = [
  'a/b',
  '/',
  '//',
  '..',
  '.',
  '../..',
  'a/../b',
  '\u0000',
  'a\u0000b',
  '\u0000\u0000',
  '😀',
  '👩‍👩‍👧‍👦',
  'x'.repeat(10_240),
  'x'.repeat(10_241),
  '',
  ' ',
  'zookeeper',
  '%2F',
  // Lone surrogates (a key cut in the middle of an emoji): UTF-8 turns each into U+FFFD, so these
  // five all hashed to one znode, and every take of the second one failed ("two keys hash to ...").
  '\ud83d',
  '\ud83c',
  '\udfff',
  '\ufffd',
  'x\ud83d\ud83d',
];

describe.each([
  ['strict', true],
  ['leased', false],
])('hostile keys (%s mode)', (mode, strict) => {
  test('each key gets its own bucket, and the bucket znode keeps the original key', async () => {
    const storeRoot = `${root}/keys-${mode}`;
    const store = await newStore({ root: storeRoot });
    const limiter: Limiter = createLimiter({ rate: 1, interval: '1h', burst: 3, strict, store, name: `hostile-${mode}` });
    expect(new Set(HOSTILE_KEYS).size).toBe(HOSTILE_KEYS.length);
    // Exhaust each key in turn: a key sharing a bucket with an earlier one would start empty.
    for (const key of HOSTILE_KEYS) {
      const allowed = [];
      for (let i = 0; i < 4; i++) allowed.push((await limiter.take(key)).allowed);
      expect({ key: key.slice(0, 20), allowed }).toEqual({ key: key.slice(0, 20), allowed: [true, true, true, false] });
    }
    // ... and none of them was refilled by another key's bucket.
    for (const key of HOSTILE_KEYS) expect((await limiter.take(key)).allowed).toBe(false);

    const buckets = await bucketsUnder(storeRoot);
    expect(buckets).toHaveLength(HOSTILE_KEYS.length);
    const stored: string[] = [];
    for (const path of buckets) {
      const [shard, name] = path.split('/').slice(-2) as [string, string];
      expect(shard).toMatch(/^[0-9a-f]{2}$/);
      expect(name).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const data = JSON.parse((await raw.getData(path)).data.toString('utf8')) as { k: string; t: number };
      expect(data.t).toBeLessThan(1);
      stored.push(data.k);
    }
    expect(stored.sort()).toEqual([...HOSTILE_KEYS].sort());
  });
});

describe('digest auth', () => {
  test('flowgate writes its own znodes; an unauthenticated or wrongly authenticated client can read but gets NoAuth on writes', async () => {
    const storeRoot = `${root}/acl`;
    const store = await newStore({ root: storeRoot, auth: AUTH });
    const limiter = createLimiter({ rate: 1, interval: '1h', burst: 5, strict: true, store, name: 'acl' });
    // Creating the bucket, then changing it: the store's own credential passes its own ACL.
    expect((await limiter.take('k')).allowed).toBe(true);
    expect((await limiter.take('k')).allowed).toBe(true);
    const [bucket] = await bucketsUnder(storeRoot);
    expect(bucket).toBeDefined();
    const path = bucket as string;

    const { data, stat } = await raw.getData(path);
    const stored = JSON.parse(data.toString('utf8')) as { k: string; t: number };
    expect(stored.k).toBe('k');
    expect(stored.t).toBeCloseTo(3, 2);
    const acls = await raw.getACL(path);
    // (node-zookeeper-client names the field `permission`; its typings say `perms`.)
    expect(acls.map((a) => ({ scheme: a.id.scheme, perms: (a as unknown as { permission: number }).permission }))).toEqual(
      expect.arrayContaining([
        { scheme: 'digest', perms: 31 },
        { scheme: 'world', perms: 1 },
      ]),
    );
    expect(acls).toHaveLength(2);

    const wrong = await RawClient.connect(ensemble.connect, 'flowgate:wrong');
    const right = await RawClient.connect(ensemble.connect, AUTH);
    try {
      for (const [who, client] of [
        ['unauthenticated', raw],
        ['wrong password', wrong],
      ] as const) {
        const attempts = {
          setData: await client.setData(path, Buffer.from('{"v":1,"t":5,"k":"k"}'), stat.version).then(() => 0, codeOf),
          remove: await client.remove(path).then(() => 0, codeOf),
          createUnderRoot: await client.create(`${storeRoot}/intruder`, Buffer.from('x')).then(() => 0, codeOf),
          createUnderBuckets: await client.create(`${storeRoot}/buckets/intruder`, Buffer.from('x')).then(() => 0, codeOf),
          removeMember: await client.getChildren(`${storeRoot}/members`).then(([m]) => client.remove(`${storeRoot}/members/${m}`)).then(() => 0, codeOf),
        };
        expect({ who, ...attempts }).toEqual({ who, setData: NO_AUTH, remove: NO_AUTH, createUnderRoot: NO_AUTH, createUnderBuckets: NO_AUTH, removeMember: NO_AUTH });
      }
      // The bucket is untouched, and still the store's.
      expect((await raw.getData(path)).stat.version).toBe(stat.version);
      expect((await limiter.take('k')).allowed).toBe(true);
      // The right credential may write (the ACL's digest is the standard one).
      // (Any version: the store itself may write the bucket meanwhile, returning or fetching a lease.)
      const now = await right.getData(path);
      await expect(right.setData(path, now.data, -1)).resolves.toBeDefined();
    } finally {
      wrong.close();
      right.close();
    }
  });
});

describe('a key whose shard parent is missing', () => {
  test('gets its shard and its bucket in one multi, both under the store\'s ACL', async () => {
    const storeRoot = `${root}/shard-multi`;
    const store = await newStore({ root: storeRoot, auth: AUTH });
    const limiter = createLimiter({ rate: 1, interval: '1h', burst: 5, strict: true, store, name: 'shards' });
    // The first key also makes the limiter's node: levels above the shard are missing, so mkdirp.
    expect((await limiter.take('first')).allowed).toBe(true);
    const shardsBefore = new Set((await bucketsUnder(storeRoot)).map((p) => p.split('/').at(-2)));
    // The next key in another shard: a create that finds no parent, then one multi (shard + bucket)
    // instead of a mkdirp (one create per level) and a create.
    let key = 0;
    let bucket: string | undefined;
    const before = { ...store.stats().operations };
    for (; bucket === undefined; key++) {
      expect((await limiter.take(`k${key}`)).allowed).toBe(true);
      bucket = (await bucketsUnder(storeRoot)).find((p) => !shardsBefore.has(p.split('/').at(-2)));
    }
    const ops = store.stats().operations;
    // One multi made the new shard and its bucket. (mkdirp is not counted here: the store's own
    // background report may make the limiter's catalogue node meanwhile.)
    expect((ops['multi'] ?? 0) - (before['multi'] ?? 0)).toBe(1);
    const shard = (bucket as string).slice(0, (bucket as string).lastIndexOf('/'));
    for (const path of [shard, bucket as string]) {
      const acls = await raw.getACL(path);
      expect(acls.map((a) => `${a.id.scheme}:${(a as unknown as { permission: number }).permission}`).sort()).toEqual(['digest:31', 'world:1']);
    }
    const stored = JSON.parse((await raw.getData(bucket as string)).data.toString('utf8')) as { k: string };
    expect(stored.k).toBe(`k${key - 1}`);
  });
});

describe('cleanup of idle buckets', () => {
  test.each([
    ['strict', true],
    ['leased', false],
  ])('%s: buckets of 200 one-off keys are deleted once full again; shard parents stay within 256', async (mode, strict) => {
    const storeRoot = `${root}/cleanup-${mode}`;
    const store = await newStore({ root: storeRoot, cleanupAfter: 0 });
    // Full again 10 ms after a take.
    const limiter = createLimiter({ rate: 100, interval: '1s', burst: 1, strict, store, name: `cleanup-${mode}` });
    const keys = Array.from({ length: 200 }, (_, i) => `one-off-${mode}-${i}`);
    for (let i = 0; i < keys.length; i += 20) {
      const decisions = await Promise.all(keys.slice(i, i + 20).map((k) => limiter.take(k)));
      expect(decisions.every((d) => d.allowed)).toBe(true);
    }
    const created = (await bucketsUnder(storeRoot)).length;
    const start = performance.now();
    await waitFor(async () => (await bucketsUnder(storeRoot)).length === 0, 20_000, `the ${mode} buckets to be deleted`, 250);
    const limiterDirs = await raw.getChildren(`${storeRoot}/buckets`);
    expect(limiterDirs).toHaveLength(1);
    const shards = await raw.getChildren(`${storeRoot}/buckets/${limiterDirs[0]}`);
    console.log(`cleanup (${mode}): ${created} of 200 bucket znodes present after the takes, all deleted ${(performance.now() - start).toFixed(0)} ms later; ${shards.length} shard parents remain`);
    expect(shards.length).toBeLessThanOrEqual(256);
    for (const shard of shards) expect(shard).toMatch(/^[0-9a-f]{2}$/);
    // A deleted bucket is a full bucket again.
    expect((await limiter.take(keys[0] as string)).allowed).toBe(true);
  });

  test('buckets written by a process that stopped before its sweep are deleted by the processes still running', async () => {
    // A process that is restarted (a deploy) or crashes right after its writes never sweeps them:
    // unless the survivors do, every restart leaves its recent one-off keys behind for ever.
    const storeRoot = `${root}/cleanup-orphans`;
    const writer = await newStore({ root: storeRoot, cleanupAfter: 0 });
    const writerLimiter = createLimiter({ rate: 100, interval: '1s', burst: 1, strict: true, store: writer, name: 'orphans' });
    await Promise.all(Array.from({ length: 50 }, (_, i) => writerLimiter.take(`orphan-${i}`)));
    await writer.close();
    const left = (await bucketsUnder(storeRoot)).length;
    expect(left).toBeGreaterThan(0);

    const survivor = await newStore({ root: storeRoot, cleanupAfter: 0 });
    const survivorLimiter = createLimiter({ rate: 100, interval: '1s', burst: 1, strict: true, store: survivor, name: 'orphans' });
    await survivorLimiter.take('survivor-key');
    const deleted = await waitFor(async () => (await bucketsUnder(storeRoot)).length === 0, 15_000, `the ${left} buckets left by the stopped process to be deleted`, 500).catch(
      (error: Error) => error,
    );
    console.log(`cleanup of a stopped process's buckets: ${left} left behind; ${deleted instanceof Error ? `${(await bucketsUnder(storeRoot)).length} still there after 15 s` : `all deleted after ${deleted.toFixed(0)} ms`}`);
    expect(deleted).not.toBeInstanceOf(Error);
  });

  test('1,000 more one-off keys: shard parents never exceed 256 and the buckets still go away', async () => {
    const storeRoot = `${root}/cleanup-many`;
    const store = await newStore({ root: storeRoot, cleanupAfter: 0 });
    const limiter = createLimiter({ rate: 100, interval: '1s', burst: 1, strict: true, store, name: 'many' });
    for (let round = 0; round < 2; round++) {
      const keys = Array.from({ length: 500 }, (_, i) => `many-${round}-${i}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => limiter.take(k)));
      await waitFor(async () => (await bucketsUnder(storeRoot)).length === 0, 30_000, 'the buckets to be deleted', 250);
      const [limiterDir] = await raw.getChildren(`${storeRoot}/buckets`);
      const shards = await raw.getChildren(`${storeRoot}/buckets/${limiterDir}`);
      console.log(`cleanup (1,000 keys), round ${round + 1}: ${shards.length} shard parents`);
      expect(shards.length).toBeLessThanOrEqual(256);
    }
  });
});
