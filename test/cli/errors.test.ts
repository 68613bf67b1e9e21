// The CLI's failures and exit codes as a script sees them: no server (3), no root (4), no permission (5), usage (2), --help (0).

import { createLimiter, ZooKeeperStore } from '../../src/index.js';
import type { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';
import { ZnodePaths } from '../../src/stores/zookeeper/znode-paths.js';
import { describeRun, requireBuild, runCli } from './helpers/cli-process.js';
import { ensembleFor, type TestZooKeeper } from './helpers/cli-clusters.js';
import { digestOnlyAcl, dropRoot, fixtureSession, freshRoot, PERSISTENT } from './helpers/cli-fixtures.js';
import { FaultProxy } from '../zookeeper/helpers/fault-proxy.js';

jest.setTimeout(60_000);

const AUTH = 'ops:s3cret';
let zk: TestZooKeeper;
let fixtures: ZooKeeperSession;
const roots: string[] = [];

beforeAll(async () => {
  requireBuild();
  zk = ensembleFor('t-cli-errors', 27330);
  fixtures = await fixtureSession(zk.connect, AUTH);
});

afterAll(async () => {
  await fixtures?.close();
  if (zk !== undefined) for (const root of roots) await dropRoot(zk.connect, root, AUTH);
  zk?.stop();
});

function newRoot(label: string): string {
  const root = freshRoot(label);
  roots.push(root);
  return root;
}

describe('cannot connect: exit 3 within --timeout, naming the connect string', () => {
  test('nobody listening, --timeout 1s and the default 5 s', async () => {
    const [fast, byDefault] = await Promise.all([runCli(['status', '--zk', '127.0.0.1:1', '--timeout', '1s']), runCli(['policy', 'list', '--zk', '127.0.0.1:1'])]);
    expect(fast.code).toBe(3);
    expect(fast.stderr).toBe('flowgate: cannot connect to ZooKeeper at 127.0.0.1:1 within 1000 ms: is it running, and is the connect string right?\n');
    // Wall time from spawn: it includes the process's start-up (0.5-2 s on a loaded host), so the
    // bound is under the 5 s default an ignored --timeout would take, not near the 1 s asked for.
    expect(fast.ms).toBeLessThan(4500);
    expect(byDefault.code).toBe(3);
    expect(byDefault.stderr).toContain('127.0.0.1:1 within 5000 ms');
    expect(byDefault.ms).toBeGreaterThan(4900);
    expect(byDefault.ms).toBeLessThan(8000);
  });

  test('a server that accepts and never answers, first in the connect string: --timeout 2s still reaches the next one', async () => {
    const hung = await FaultProxy.inFrontOf(zk.connect);
    hung.slowHandshake(Infinity);
    try {
      const healthy = zk.connect.split(',')[0] as string;
      const root = newRoot('hung-first');
      await fixtures.mkdirp(root);
      const runs = await Promise.all([1, 2, 3].map(() => runCli(['policy', 'list', '--zk', `${hung.connect},${healthy}`, '--timeout', '2s', '--root', root])));
      // The previous code gave each attempt 6 s / 2 servers = 3 s: a run that tried the hung server
      // first ran out of its 2 s (exit 3, "cannot connect").
      for (const run of runs) expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0, stderr: '' });
    } finally {
      await hung.close();
    }
  });
});

test('a root that does not exist: exit 4, for every command', async () => {
  const missing = '/cli-test-no-such-root';
  const runs = await Promise.all([
    runCli(['status', '--zk', zk.connect, '--root', missing]),
    runCli(['reset', 'api', 'k', '--zk', zk.connect, '--root', missing]),
    runCli(['policy', 'set', 'api', '--rate', '1', '--zk', zk.connect, '--root', missing]),
    runCli(['policy', 'list', '--zk', zk.connect, '--root', missing]),
  ]);
  for (const run of runs) {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 4, stderr: `flowgate: no flowgate data under ${missing} at ${zk.connect} (is --root right?)\n` });
  }
  // ... and nothing was created by the attempt.
  expect(await fixtures.exists(missing)).toBeNull();
});

test("a root that holds other nodes but none of flowgate's (--root /kafka by mistake): exit 4 naming what it holds; an empty root is flowgate's to use", async () => {
  const other = newRoot('not-flowgate');
  await fixtures.mkdirp(`${other}/brokers`, undefined);
  await fixtures.mkdirp(`${other}/config`, undefined);
  const [status, set] = await Promise.all([
    runCli(['status', '--zk', zk.connect, '--root', other]),
    runCli(['policy', 'set', 'api', '--rate', '1', '--create', '--zk', zk.connect, '--root', other]),
  ]);
  for (const run of [status, set]) {
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(new RegExp(`^flowgate: no flowgate data under ${other} at .*: it holds (brokers, config|config, brokers), none of flowgate's nodes \\(is --root right\\?\\)\n$`));
  }
  // Nothing was written there.
  expect(await fixtures.exists(`${other}/policies`)).toBeNull();
  // A foreign root with more children than the CLI lists: counted, not listed; and a flowgate root
  // with many other children is still found by name.
  const crowded = newRoot('crowded');
  await fixtures.mkdirp(crowded, undefined);
  await Promise.all(Array.from({ length: 1001 }, (_, i) => fixtures.mkdirp(`${crowded}/n${i}`, undefined)));
  const counted = await runCli(['status', '--zk', zk.connect, '--root', crowded]);
  expect(counted.code).toBe(4);
  expect(counted.stderr).toContain(`no flowgate data under ${crowded} at ${zk.connect}: it holds 1001 nodes, none of flowgate's nodes`);
  await fixtures.mkdirp(`${crowded}/policies`, undefined);
  expect((await runCli(['status', '--zk', zk.connect, '--root', crowded])).code).toBe(0);
  // An empty root is used as it is.
  const empty = newRoot('empty');
  await fixtures.mkdirp(empty, undefined);
  const published = await runCli(['policy', 'set', 'api', '--rate', '1', '--create', '--zk', zk.connect, '--root', empty]);
  expect(published.code).toBe(0);
});

describe('a root protected by digest auth', () => {
  test('writes (reset, policy set, policy rm) without --auth or with a wrong one: exit 5 naming the path; with --auth: done', async () => {
    // The store creates its znodes writable by its credential only (readable by all).
    const root = newRoot('acl');
    const store = new ZooKeeperStore({ connect: zk.connect, root, auth: AUTH });
    const limiter = createLimiter({ name: 'login', rate: 3, interval: '1h', burst: 3, strict: true, store });
    try {
      await store.ready(15_000);
      expect((await limiter.take('alice', { cost: 3 })).allowed).toBe(true);
      const bucket = new ZnodePaths(root).bucket('login', 'alice');
      const zkArgs = ['--zk', zk.connect, '--root', root];

      const [reset, set, wrong] = await Promise.all([
        runCli(['reset', 'login', 'alice', ...zkArgs]),
        runCli(['policy', 'set', 'login', '--rate', '5', ...zkArgs]),
        runCli(['reset', 'login', 'alice', ...zkArgs, '--auth', 'ops:wrong']),
      ]);
      expect(reset.code).toBe(5);
      expect(reset.stderr).toContain(`no permission to delete the bucket of key 'alice' (${bucket}) (ZooKeeper NoAuth): give the credential the apps use with --auth`);
      expect(set.code).toBe(5);
      expect(set.stderr).toContain(`no permission to write ${root}/policies/`);
      expect(wrong.code).toBe(5);
      expect(wrong.stderr).toContain('the credential given with --auth (or FLOWGATE_AUTH) is not the one that protects it');
      expect(await fixtures.exists(bucket)).not.toBeNull();

      // Reads need no credential here (world-readable).
      const status = await runCli(['status', ...zkArgs]);
      expect(status.code).toBe(0);

      const done = await runCli(['reset', 'login', 'alice', ...zkArgs, '--auth', AUTH]);
      expect(done.code).toBe(0);
      expect(await fixtures.exists(bucket)).toBeNull();
      // The credential may also come from FLOWGATE_AUTH.
      const published = await runCli(['policy', 'set', 'login', '--rate', '5', ...zkArgs], { FLOWGATE_AUTH: AUTH });
      expect(describeRun(published)).toMatch(/^exit 0 /);
      // The policy node the CLI created is protected like the store's own nodes.
      const rm = await runCli(['policy', 'rm', 'login', ...zkArgs]);
      expect(rm.code).toBe(5);
    } finally {
      await limiter.close();
      await store.close();
    }
  });

  test('a root nobody else may even read: status exits 5 without --auth, 0 with it', async () => {
    const root = newRoot('acl-read');
    await fixtures.create(root, Buffer.alloc(0), PERSISTENT, digestOnlyAcl(AUTH));
    await fixtures.create(`${root}/members`, Buffer.alloc(0), PERSISTENT, digestOnlyAcl(AUTH));
    const [denied, allowed] = await Promise.all([runCli(['status', '--zk', zk.connect, '--root', root]), runCli(['status', '--zk', zk.connect, '--root', root, '--auth', AUTH])]);
    expect(denied.code).toBe(5);
    expect(denied.stderr).toContain('(ZooKeeper NoAuth): give the credential the apps use with --auth user:password');
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^members: 0, limiters: 0, queues: 0$/m);
  });
});

test('--help works for every command (exit 0)', async () => {
  const commands = [[], ['status'], ['reset'], ['policy'], ['policy', 'get'], ['policy', 'set'], ['policy', 'rm'], ['policy', 'list']];
  const runs = await Promise.all(commands.map((command) => runCli([...command, '--help'])));
  for (const [i, run] of runs.entries()) {
    expect({ command: commands[i], code: run.code }).toEqual({ command: commands[i], code: 0 });
    expect(run.stdout).toMatch(new RegExp(`^Usage: flowgate${commands[i]?.length ? ` ${commands[i]?.join(' ')}` : ''} `));
  }
  expect(runs[1]?.stdout).toContain('--watch');
  expect(runs[5]?.stdout).toContain('--queue-max-wait <duration>');
  expect(runs[0]?.stdout).toContain('Exit codes: 0 ok, 1 other failure, 2 usage, 3 cannot reach ZooKeeper, 4 not found, 5 no permission.');
});

test.each([
  [[], 'Usage: flowgate'],
  [['status'], "required option '--zk <connect>' not specified"],
  [['status', '--zk', 'localhost'], "option '--zk <connect>' argument 'localhost' is invalid"],
  [['status', '--zk', '127.0.0.1:2181', '--root', 'flowgate'], "option '--root <path>' argument 'flowgate' is invalid"],
  [['status', '--zk', '127.0.0.1:2181', '--keys', 'many'], "option '--keys <n>' argument 'many' is invalid"],
  [['status', '--zk', '127.0.0.1:2181', '--interval', '10ms'], "option '--interval <duration>' argument '10ms' is invalid. must be at least 100 ms"],
  [['status', '--zk', '127.0.0.1:2181', '--interval', '600h'], "option '--interval <duration>' argument '600h' is invalid. must be at most 24 days"],
  [['status', '--zk', '127.0.0.1:2181', '--auth', 'nocolon'], "option '--auth <user:password>' argument 'nocolon' is invalid"],
  [['reset', 'api', '--zk', '127.0.0.1:2181'], "missing required argument 'key'"],
  [['stats'], "unknown command 'stats'"],
])('%j is a usage error (exit 2)', async (args, message) => {
  const result = await runCli(args);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(message);
});
