// `flowgate policy get|set|rm|list` as a real process against a real standalone server: round trips, versions, bases, bad values.

import { createLimiter, ZooKeeperStore, type Limiter } from '../../src/index.js';
import { PolicyRegistry } from '../../src/stores/zookeeper/policy-registry.js';
import type { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';
import { ZnodePaths } from '../../src/stores/zookeeper/znode-paths.js';
import type { PolicyJson } from '../../src/cli/policy-view.js';
import { requireBuild, runCli, type CliResult } from './helpers/cli-process.js';
import { standaloneFor, type TestZooKeeper } from './helpers/cli-clusters.js';
import { dropRoot, fillIfEmpty, fixtureSession, freshRoot, PERSISTENT } from './helpers/cli-fixtures.js';

jest.setTimeout(60_000);

let zk: TestZooKeeper;
let fixtures: ZooKeeperSession;
let store: ZooKeeperStore;
let limiter: Limiter;
const root = freshRoot('policy');

beforeAll(async () => {
  requireBuild();
  zk = standaloneFor('t-cli-policy', 27320);
  fixtures = await fixtureSession(zk.connect);
  store = new ZooKeeperStore({ connect: zk.connect, root });
  await store.ready(15_000);
  limiter = createLimiter({ name: 'api', rate: 10, interval: '1s', burst: 20, strict: true, store });
  expect((await limiter.take('k')).allowed).toBe(true);
  await fillIfEmpty(fixtures, new ZnodePaths(root).limiter('api'), { v: 1, name: 'api', rate: 10, intervalMs: 1000, burst: 20, strict: true });
});

afterAll(async () => {
  await limiter?.close();
  await store?.close();
  await fixtures?.close();
  if (zk !== undefined) await dropRoot(zk.connect, root);
  zk?.stop();
});

function policy(...args: string[]): Promise<CliResult> {
  return runCli(['policy', ...args, '--zk', zk.connect, '--root', root]);
}

async function json<T>(run: Promise<CliResult>): Promise<T> {
  const result = await run;
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as T;
}

test('set then get round-trips, the version counts up, and the library reads what the CLI wrote', async () => {
  const none = await policy('get', 'api');
  expect(none.code).toBe(4);
  expect(none.stderr).toContain("no published policy for limiter 'api' (its processes use their own options: 10 per 1s, burst 20)");

  // Nothing published yet: the base is what the limiter's node records.
  const first = await json<PolicyJson>(policy('set', 'api', '--burst', '30', '--json'));
  expect(first).toMatchObject({ name: 'api', version: 0, rate: 10, intervalMs: 1000, burst: 30, queue: null });

  const second = await json<PolicyJson>(policy('set', 'api', '--rate', '20', '--queue-max-size', '5', '--queue-max-wait', '2s', '--json'));
  expect(second).toMatchObject({ version: 1, rate: 20, intervalMs: 1000, burst: 30, queue: { maxSize: 5, maxWaitMs: 2000 } });

  const got = await json<PolicyJson>(policy('get', 'api', '--json'));
  expect(got).toEqual(second);
  expect(got.by).toMatch(/^.+:\d+$/);
  expect(Date.parse(got.updatedAt)).toBeGreaterThan(Date.now() - 60_000);

  const text = await policy('get', 'api');
  expect(text.code).toBe(0);
  expect(text.stdout).toBe(
    ['limiter  api', 'version  1', 'rate     20 per 1s', 'burst    30', 'queue    maxSize 5, maxWait 2.0 s', `updated  ${got.updatedAt} by ${got.by}`, ''].join('\n'),
  );

  const off = await json<PolicyJson>(policy('set', 'api', '--no-queue', '--interval', '1m', '--json'));
  expect(off).toMatchObject({ version: 2, rate: 20, intervalMs: 60_000, queue: false });

  const read = await new PolicyRegistry(fixtures, root, undefined).get('api');
  expect(read).toMatchObject({ name: 'api', version: 2, rate: 20, intervalMs: 60_000, burst: 30, queue: false });
});

test('a limiter nothing knows is refused as a likely typo (exit 4) unless --create; then it needs --rate (exit 2), and burst follows the rate', async () => {
  const typo = await policy('set', 'fresh', '--rate', '5');
  expect(typo.code).toBe(4);
  expect(typo.stderr).toContain(`no limiter 'fresh' under ${root}: no process has used it and no policy is published for it; check the name, or give --create`);
  expect((await policy('get', 'fresh')).code).toBe(4);
  const refused = await policy('set', 'fresh', '--burst', '4', '--create');
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain("limiter 'fresh' has no published policy, and its node does not record its options: give --rate");
  const fresh = await json<PolicyJson>(policy('set', 'fresh', '--rate', '2.5', '--create', '--json'));
  expect(fresh).toMatchObject({ name: 'fresh', version: 0, rate: 2.5, intervalMs: 1000, burst: 3 });
  const unknown = await policy('get', 'nobody');
  expect(unknown.code).toBe(4);
  expect(unknown.stderr).toContain(`no published policy for limiter 'nobody', and no limiter 'nobody' under ${root}`);
});

test('list shows every published policy; rm removes one (exit 0, and exit 0 again when there is none)', async () => {
  const listed = await json<PolicyJson[]>(policy('list', '--json'));
  expect(listed.map((p) => [p.name, p.version])).toEqual([
    ['api', 2],
    ['fresh', 0],
  ]);
  const table = await policy('list');
  expect(table.stdout).toMatch(/^limiter +version +rate +burst +queue +updated +by$/m);
  expect(table.stdout).toMatch(/^fresh +0 +2\.5 per 1s +3 +each process's own option /m);

  const removed = await policy('rm', 'fresh');
  expect(removed.code).toBe(0);
  expect(removed.stdout).toContain("removed the published policy of limiter 'fresh'");
  const again = await json<{ name: string; removed: boolean }>(policy('rm', 'fresh', '--json'));
  expect(again).toEqual({ name: 'fresh', removed: false });
  expect((await policy('get', 'fresh')).code).toBe(4);
});

test('a policy node this flowgate cannot read (a newer format): set exits 1 at once naming the node and rm, and writes nothing over it', async () => {
  const path = new PolicyRegistry(fixtures, root, undefined).pathOf('future');
  await fixtures.mkdirp(path.slice(0, path.lastIndexOf('/')));
  await fixtures.create(path, Buffer.from('{"v":2,"name":"future"}'), PERSISTENT);
  const started = Date.now();
  const result = await policy('set', 'future', '--rate', '5');
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`the policy node ${path} holds data this flowgate cannot read`);
  // One "flowgate: " before the message, not two.
  expect(result.stderr.startsWith('flowgate: the policy node')).toBe(true);
  // get tells the same, rather than "no published policy".
  const got = await policy('get', 'future');
  expect(got.code).toBe(1);
  expect(got.stderr).toContain(`the policy node ${path} holds data this flowgate cannot read`);
  expect(result.stderr).toContain("flowgate policy rm future");
  expect(Date.now() - started).toBeLessThan(15_000);
  expect((await fixtures.getData(path)).data?.toString()).toBe('{"v":2,"name":"future"}');
  expect((await policy('rm', 'future')).code).toBe(0);
});

test.each([
  [['set', 'api', '--rate', 'abc'], "option '--rate <n>' argument 'abc' is invalid"],
  [['set', 'api', '--rate', '0'], "option '--rate <n>' argument '0' is invalid"],
  [['set', 'api', '--burst', '1.5'], "option '--burst <n>' argument '1.5' is invalid"],
  [['set', 'api', '--interval', 'soon'], "option '--interval <duration>' argument 'soon' is invalid"],
  [['set', 'api', '--queue-max-size', '-1'], "option '--queue-max-size <n>' argument '-1' is invalid"],
  [['set', 'api', '--no-queue', '--queue-max-wait', '1s'], "option '--no-queue' cannot be used with option '--queue-max-wait <duration>'"],
  [['set', 'api'], 'nothing to change'],
  [['get'], "missing required argument 'limiter'"],
  [['frobnicate'], "unknown command 'frobnicate'"],
])('policy %j is a usage error (exit 2) naming what is wrong', async (args, message) => {
  const result = await policy(...args);
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
  expect(result.stderr).toContain(message);
});
