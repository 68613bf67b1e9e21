// `flowgate reset` as a real process against a real ensemble: the key's bucket znode goes, and the limiter sees the key full again.

import { createLimiter, ZooKeeperStore, type Limiter } from '../../src/index.js';
import type { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';
import { ZnodePaths } from '../../src/stores/zookeeper/znode-paths.js';
import { describeRun, requireBuild, runCli, type CliResult } from './helpers/cli-process.js';
import { ensembleFor, type TestZooKeeper } from './helpers/cli-clusters.js';
import { dropRoot, fixtureSession, freshRoot } from './helpers/cli-fixtures.js';
import { waitFor } from '../helpers/wait.js';

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
  expect(JSON.parse(again.stdout)).toEqual({ limiter: 'login', key, existed: false, tokensBefore: null, burst: null });
});

test('--json says what was removed', async () => {
  expect((await limiter.take('k', { cost: 3 })).allowed).toBe(true);
  const result = await reset('login', 'k', '--json');
  expect(result.code).toBe(0);
  const parsed = JSON.parse(result.stdout) as { existed: boolean; tokensBefore: number; burst: number };
  expect(parsed).toMatchObject({ limiter: 'login', key: 'k', existed: true, burst: 5 });
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
