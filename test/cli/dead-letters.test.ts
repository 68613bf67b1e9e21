// `flowgate dead-letters list|requeue|rm` as a real process against a real server: a DistributedQueue's
// dead letters are listed, moved back (and then handled), or deleted; bad calls exit 2 or 4.

import { DistributedQueue } from '../../src/index.js';
import { describeRun, requireBuild, runCli, type CliResult } from './helpers/cli-process.js';
import { standaloneFor, type TestZooKeeper } from './helpers/cli-clusters.js';
import { dropRoot, freshRoot } from './helpers/cli-fixtures.js';
import { waitFor } from '../helpers/wait.js';

jest.setTimeout(60_000);

let zk: TestZooKeeper;
let queue: DistributedQueue<{ job: string }>;
const root = freshRoot('dead-letters');
let broken = true;
const handled: Array<{ job: string; attempt: number }> = [];

beforeAll(async () => {
  requireBuild();
  zk = standaloneFor('t-cli-dead-letters', 27340);
  queue = new DistributedQueue<{ job: string }>({ connect: zk.connect, root, name: 'mail', maxAttempts: 1, pollInterval: '100ms' });
  for (const job of ['a', 'b', 'c']) await queue.enqueue({ job }, job === 'c' ? { priority: 2 } : {});
  queue.consume((item, info) => {
    handled.push({ job: item.job, attempt: info.attempt });
    if (broken) throw new Error(`smtp down for ${item.job}`);
  });
  await waitFor(async () => (await queue.deadLetters()).length === 3, 10_000, 'three dead letters');
});

afterAll(async () => {
  await queue?.close();
  if (zk !== undefined) await dropRoot(zk.connect, root);
  zk?.stop();
});

function cli(...args: string[]): Promise<CliResult> {
  return runCli(['dead-letters', ...args, '--zk', zk.connect, '--root', root]);
}

test('list shows every dead letter (id, attempts, error, item); --json gives them whole', async () => {
  const text = await cli('list', 'mail');
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^queue 'mail': 3 dead letters$/m);
  expect(text.stdout).toMatch(/^ID +ATTEMPTS +ERROR +ITEM$/m);
  for (const job of ['a', 'b', 'c']) expect(text.stdout).toContain(`smtp down for ${job}`);
  const json = await cli('list', 'mail', '--json');
  expect(json.code).toBe(0);
  const letters = JSON.parse(json.stdout) as Array<{ id: string; item: { job: string }; attempts: number; error: string }>;
  expect(letters.map((l) => [l.item.job, l.attempts]).sort()).toEqual([
    ['a', 1],
    ['b', 1],
    ['c', 1],
  ]);
  expect(letters.map((l) => l.id)).toEqual((await queue.deadLetters()).map((l) => l.id));
});

test('requeue by id moves that one back (handled at its first attempt again); rm --all deletes the rest; ids not there exit 4', async () => {
  const letters = await queue.deadLetters();
  const b = letters.find((l) => l.item.job === 'b') as { id: string };
  broken = false;
  handled.length = 0;
  const requeued = await cli('requeue', 'mail', b.id);
  expect({ code: requeued.code, out: requeued.stdout.trim() }).toEqual({ code: 0, out: "1 dead letter moved back to queue 'mail'" });
  await waitFor(() => handled.length === 1, 5_000, 'b handled');
  expect(handled).toEqual([{ job: 'b', attempt: 1 }]);

  // The same id again: not there any more.
  const again = await cli('requeue', 'mail', b.id, '--json');
  expect(again.code).toBe(4);
  expect(JSON.parse(again.stdout)).toEqual({ queue: 'mail', action: 'requeued', count: 0, missing: [b.id] });
  expect(again.stderr).toMatch(/flowgate: 1 of the dead letters asked for were not there/);

  const removed = await cli('rm', 'mail', '--all');
  expect({ code: removed.code, out: removed.stdout.trim() }).toEqual({ code: 0, out: "2 dead letters deleted from queue 'mail'" });
  expect(await queue.deadLetters()).toEqual([]);
  const empty = await cli('list', 'mail');
  expect(empty.stdout.trim()).toBe("queue 'mail' has no dead letters");
  expect(handled.map((h) => h.job)).toEqual(['b']);
});

test('bad calls: no ids and no --all, both, or a queue that does not exist', async () => {
  const none = await cli('rm', 'mail');
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/give the ids of the dead letters to delete, or --all/);
  const both = await cli('requeue', 'mail', 'x', '--all');
  expect(both.code).toBe(2);
  const missing = await cli('list', 'no-such-queue');
  expect(missing.code).toBe(4);
  expect(missing.stderr).toMatch(/no queue 'no-such-queue' under \/cli-test-dead-letters-/);
  expect(describeRun(missing)).toContain('no-such-queue');
});
