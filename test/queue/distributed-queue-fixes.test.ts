// DistributedQueue defects from review, on a real standalone server (a FaultProxy in front of it for outages): huge handler errors and
// dead letters, deadlines and signals while ZooKeeper is unreachable, close(), calls after close(), option and item checks, maxItemBytes,
// one shared wait for the connection instead of one listener per caller, and the versions of a multi.

import { DistributedQueue, FlowgateArgumentError, FlowgateConfigError, ZooKeeperStore } from '../../src/index.js';
import { nodeName } from '../../src/stores/zookeeper/znode-paths.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';
import { FaultProxy } from '../zookeeper/helpers/fault-proxy.js';
import { RawClient } from '../zookeeper/helpers/raw-client.js';
import { ZkCode, zkCode, ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-dq-fixes', 27770, 'dqfix');
const { root } = zk;

/** How a promise settled, and after how many ms; `pending` when it had not within `limitMs`. */
async function outcome(promise: Promise<unknown>, limitMs: number): Promise<{ how: 'resolved' | 'rejected' | 'pending'; value?: unknown; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      (value) => ({ how: 'resolved' as const, value }),
      (value: unknown) => ({ how: 'rejected' as const, value }),
    ),
    new Promise<{ how: 'pending' }>((resolve) => (timer = setTimeout(() => resolve({ how: 'pending' }), limitMs))),
  ]);
  clearTimeout(timer);
  return { ...settled, ms: Math.round(performance.now() - started) };
}

/** The code of an error (undefined for anything else). */
const codeOf = (value: unknown): unknown => (value as { code?: unknown } | undefined)?.code;

describe('a handler that throws: put-back and dead letters', () => {
  test('a 1.1 MB error message reaches the dead letters within seconds, cut to its first 4 KiB and marked; nothing goes to onError', async () => {
    const queue = new DistributedQueue<{ url: string }>({ connect: zk.connect, root, name: 'big-error', maxAttempts: 2, pollInterval: '200ms' });
    const errors: unknown[] = [];
    const message = `upstream replied: ${'E'.repeat(1_100_000)}`;
    try {
      await queue.enqueue({ url: 'https://partner/api' });
      const consumer = queue.consume(
        () => {
          throw new Error(message);
        },
        { onError: (error) => errors.push(error) },
      );
      // The previous code sent the whole message: ZooKeeper dropped the connection at each try
      // (over jute.maxbuffer) for ~47 s, and the item never reached the dead letters.
      const tookMs = await waitFor(async () => (await queue.deadLetters()).length === 1, 10_000, 'the item in the dead letters');
      await consumer.stop();
      const [letter] = await queue.deadLetters();
      expect(tookMs).toBeLessThan(5_000);
      expect(letter?.item).toEqual({ url: 'https://partner/api' });
      expect(letter?.attempts).toBe(2);
      expect(letter?.error.startsWith(message.slice(0, 4_000))).toBe(true);
      expect(letter?.error).toMatch(/… \[cut: 1100018 bytes in all\]$/);
      expect(Buffer.byteLength(letter?.error ?? '')).toBeLessThanOrEqual(4_096 + 64);
      expect(await queue.size()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await queue.close();
    }
  });

  test('an item at maxItemBytes=1,000,000 whose handler throws 60 KB still reaches the dead letters (the error is cut to fit)', async () => {
    const queue = new DistributedQueue<{ blob: string }>({ connect: zk.connect, root, name: 'big-item', maxAttempts: 1, maxItemBytes: 1_000_000, pollInterval: '200ms' });
    const errors: unknown[] = [];
    try {
      // Its own JSON is exactly 1,000,000 bytes: {"blob":"..."} is 11 bytes besides the string.
      const item = { blob: 'x'.repeat(1_000_000 - 11) };
      expect(Buffer.byteLength(JSON.stringify(item))).toBe(1_000_000);
      await queue.enqueue(item);
      const consumer = queue.consume(
        () => {
          throw new Error(`upstream replied: ${'\u0001'.repeat(60_000)}`);
        },
        { onError: (error) => errors.push(error) },
      );
      await waitFor(async () => (await queue.deadLetters()).length === 1, 10_000, 'the item in the dead letters');
      await consumer.stop();
      const [letter] = await queue.deadLetters();
      expect(letter?.item.blob.length).toBe(item.blob.length);
      expect(letter?.error).toMatch(/^upstream replied: \u0001+… \[cut: 60018 bytes in all\]$/);
      expect(errors).toEqual([]);
    } finally {
      await queue.close();
    }
  });

  test('a non-Error throw is kept readably (util.inspect), not as [object Object]', async () => {
    const queue = new DistributedQueue<number>({ connect: zk.connect, root, name: 'plain-throw', maxAttempts: 1, pollInterval: '200ms' });
    try {
      await queue.enqueue(1);
      await queue.enqueue(2);
      const consumer = queue.consume((n) => {
        throw n === 1 ? { code: 'E_HTTP', status: 503 } : 'plain text';
      });
      await waitFor(async () => (await queue.deadLetters()).length === 2, 10_000, 'both items in the dead letters');
      await consumer.stop();
      const letters = await queue.deadLetters();
      expect(letters.map((l) => [l.item, l.error]).sort()).toEqual([
        [1, "{ code: 'E_HTTP', status: 503 }"],
        [2, 'plain text'],
      ]);
    } finally {
      await queue.close();
    }
  });

  test('a put-back that fails (its item removed by hand meanwhile) is told to onError, not swallowed', async () => {
    const name = 'removed-by-hand';
    const queue = new DistributedQueue<number>({ connect: zk.connect, root, name, pollInterval: '200ms' });
    const raw = await RawClient.connect(zk.connect);
    const errors: unknown[] = [];
    try {
      await queue.enqueue(1);
      const consumer = queue.consume(
        async (_n, { id }) => {
          await raw.remove(`${root}/queues/${nodeName(name)}/items/${id}`);
          throw new Error('handler failed');
        },
        { onError: (error) => errors.push(error) },
      );
      await waitFor(() => errors.length > 0, 10_000, 'onError to be told');
      await consumer.stop();
      // ZooKeeper's NO_NODE (-101): the item's node is gone, so the put-back multi failed.
      expect((errors[0] as { getCode?: () => number }).getCode?.()).toBe(-101);
    } finally {
      raw.close();
      await queue.close();
    }
  });
});

describe('while ZooKeeper cannot be reached (a proxy cuts every connection)', () => {
  test('dequeue() keeps its timeout and signal, and tryDequeue() gives up after about callTimeout', async () => {
    const proxy = await FaultProxy.inFrontOf(zk.connect);
    const warm = new DistributedQueue<number>({ connect: proxy.connect, root, name: 'outage', callTimeout: '1s' });
    // Connected, but never used before the outage: its parents are still to be made.
    const cold = new DistributedQueue<number>({ connect: proxy.connect, root, name: 'outage-cold', callTimeout: '1s' });
    try {
      await warm.size();
      await waitFor(() => proxy.forwarded >= 2, 10_000, 'both queues connected');
      proxy.down();
      await sleep(200);
      const controller = new AbortController();
      const reason = new Error('caller gave up');
      setTimeout(() => controller.abort(reason), 1_000);
      const [warmTimeout, warmSignal, coldTimeout, coldSignal, tryTake] = await Promise.all([
        outcome(warm.dequeue({ timeout: '1500ms' }), 15_000),
        outcome(warm.dequeue({ signal: controller.signal }), 15_000),
        outcome(cold.dequeue({ timeout: '1500ms' }), 15_000),
        outcome(cold.dequeue({ signal: AbortSignal.timeout(1_000) }), 15_000),
        outcome(warm.tryDequeue(), 15_000),
      ]);
      process.stdout.write(`[dq-fixes] during the outage: ${JSON.stringify({ warmTimeout, warmSignal, coldTimeout, coldSignal, tryTake }, (_key, v: unknown) => (v instanceof Error ? `${String(codeOf(v) ?? v.name)}: ${v.message.slice(0, 60)}` : v))}\n`);
      // The previous code: the warm signal was ignored (~98 s), the cold queue waited for its
      // parents for 30 s whatever its timeout or signal, and tryDequeue() retried for ~98 s.
      expect(warmTimeout).toMatchObject({ how: 'rejected', value: { code: 'ERR_FLOWGATE_QUEUE_TIMEOUT' } });
      expect(warmTimeout.ms).toBeLessThan(2_500);
      expect(warmSignal).toMatchObject({ how: 'rejected', value: reason });
      expect(warmSignal.ms).toBeLessThan(2_000);
      expect(coldTimeout).toMatchObject({ how: 'rejected', value: { code: 'ERR_FLOWGATE_QUEUE_TIMEOUT' } });
      expect(coldTimeout.ms).toBeLessThan(2_500);
      expect(coldSignal).toMatchObject({ how: 'rejected', value: { name: 'TimeoutError' } });
      expect(coldSignal.ms).toBeLessThan(2_000);
      expect(tryTake).toMatchObject({ how: 'rejected', value: { code: 'ERR_FLOWGATE_ZK_UNAVAILABLE' } });
      expect(tryTake.ms).toBeLessThan(2_500);

      // Back: both queues work again.
      proxy.forward();
      await warm.enqueue(7);
      expect(await cold.dequeue({ timeout: '100ms' }).catch(codeOf)).toBe('ERR_FLOWGATE_QUEUE_TIMEOUT');
      expect(await warm.dequeue({ timeout: '10s' })).toBe(7);
    } finally {
      proxy.forward();
      await Promise.all([warm.close(), cold.close()]);
      await proxy.close();
    }
  });

  test('many calls waiting out an outage share one state listener on the session (no MaxListenersExceededWarning)', async () => {
    const proxy = await FaultProxy.inFrontOf(zk.connect);
    const store = new ZooKeeperStore({ connect: proxy.connect, root: `${root}/listeners`, unavailableAfter: '1s' });
    const queue = new DistributedQueue<number>({ store, name: 'listeners' });
    const { session } = store.connection();
    try {
      await queue.size();
      const before = session.listenerCount('state');
      proxy.down();
      const enqueued = Array.from({ length: 30 }, (_, i) => queue.enqueue(i).then(String, (error: unknown) => `failed: ${String(error)}`));
      let most = before;
      const started = performance.now();
      while (performance.now() - started < 3_000) {
        most = Math.max(most, session.listenerCount('state'));
        await sleep(20);
      }
      proxy.forward();
      const ids = await Promise.all(enqueued);
      process.stdout.write(`[dq-fixes] state listeners: ${before} before the outage, at most ${most} with 30 enqueues waiting\n`);
      // The previous code added one listener per waiting call: 30 (Node warns past 10).
      expect(most).toBeLessThanOrEqual(before + 1);
      expect(session.getMaxListeners()).toBe(10);
      expect(ids.filter((id) => id.startsWith('_c_'))).toHaveLength(30);
      expect(await queue.size()).toBe(30);
    } finally {
      proxy.forward();
      await queue.close();
      await store.close();
      await proxy.close();
    }
  });
});

describe('close()', () => {
  test('a dequeue() waiting for an item rejects at once with ERR_FLOWGATE_CLOSED, not after its pollInterval', async () => {
    const queue = new DistributedQueue<number>({ connect: zk.connect, root, name: 'close-pending', pollInterval: '20s' });
    await queue.size();
    const pending = outcome(queue.dequeue(), 15_000);
    await sleep(300);
    const closedAt = performance.now();
    await queue.close();
    const closeMs = performance.now() - closedAt;
    const result = await pending;
    // The previous code: the dequeue waited out its 20 s poll, then rejected.
    expect(result).toMatchObject({ how: 'rejected', value: { code: 'ERR_FLOWGATE_CLOSED' } });
    expect(result.ms).toBeLessThan(300 + 1_000);
    expect(closeMs).toBeLessThan(1_000);
  });

  test('a dequeue() and a tryDequeue() waiting for an unreachable ZooKeeper reject at once with ERR_FLOWGATE_CLOSED', async () => {
    const proxy = await FaultProxy.inFrontOf(zk.connect);
    const store = new ZooKeeperStore({ connect: proxy.connect, root: `${root}/close-outage`, unavailableAfter: '2s' });
    const queue = new DistributedQueue<number>({ store, name: 'close-outage' });
    try {
      await queue.size();
      proxy.down();
      const pending = [outcome(queue.dequeue(), 15_000), outcome(queue.tryDequeue(), 15_000)];
      await sleep(500);
      await queue.close();
      const results = await Promise.all(pending);
      for (const result of results) {
        expect(result).toMatchObject({ how: 'rejected', value: { code: 'ERR_FLOWGATE_CLOSED' } });
        expect(result.ms).toBeLessThan(500 + 1_000);
      }
    } finally {
      proxy.forward();
      await store.close();
      await proxy.close();
    }
  });

  test.each(['connect', 'store'] as const)('after close(), every call of a %s-built queue fails with ERR_FLOWGATE_CLOSED', async (kind) => {
    const store = kind === 'store' ? new ZooKeeperStore({ connect: zk.connect, root: `${root}/after-close` }) : undefined;
    const options = store === undefined ? { connect: zk.connect, root: `${root}/after-close`, name: 'after-close' } : { store, name: 'after-close' };
    const queue = new DistributedQueue<number>(options);
    try {
      await queue.enqueue(1);
      await queue.close();
      const calls: Record<string, () => Promise<unknown>> = {
        enqueue: () => queue.enqueue(2),
        dequeue: () => queue.dequeue({ timeout: '200ms' }),
        tryDequeue: () => queue.tryDequeue(),
        peek: () => queue.peek(),
        size: () => queue.size(),
        deadLetters: () => queue.deadLetters(),
      };
      const codes: Record<string, unknown> = {};
      for (const [name, call] of Object.entries(calls)) codes[name] = await call().then((value) => ({ resolved: value }), codeOf);
      try {
        const consumer = queue.consume(() => undefined);
        codes.consume = 'returned a consumer';
        await consumer.stop();
      } catch (error) {
        codes.consume = codeOf(error);
      }
      // The previous code: a store-built queue went on answering (size 1, the item taken by
      // tryDequeue), a connect-built one failed with ERR_FLOWGATE_ZK_UNAVAILABLE, and consume()
      // returned a consumer that did nothing.
      expect(codes).toEqual({
        enqueue: 'ERR_FLOWGATE_CLOSED',
        dequeue: 'ERR_FLOWGATE_CLOSED',
        tryDequeue: 'ERR_FLOWGATE_CLOSED',
        peek: 'ERR_FLOWGATE_CLOSED',
        size: 'ERR_FLOWGATE_CLOSED',
        deadLetters: 'ERR_FLOWGATE_CLOSED',
        consume: 'ERR_FLOWGATE_CLOSED',
      });
      await expect(queue.close()).resolves.toBeUndefined();
      // The item is still there for a new instance.
      const again = new DistributedQueue<number>(options);
      expect(await again.tryDequeue()).toBe(1);
      await again.close();
    } finally {
      await queue.close();
      await store?.close();
    }
  });
});

describe('checks of options and items', () => {
  test('bad call options, BigInt and circular items, and connect-only options with a store are refused naming the option', async () => {
    const store = new ZooKeeperStore({ connect: zk.connect, root: `${root}/checks` });
    const queue = new DistributedQueue<unknown>({ store, name: 'checks' });
    try {
      const circular: Record<string, unknown> = { a: 1 };
      circular.self = circular;
      const refusals: Array<[string, () => unknown, new (...args: never[]) => Error, RegExp]> = [
        ['enqueue(x, null)', () => queue.enqueue(1, null as never), FlowgateArgumentError, /options=null/],
        ['enqueue typo', () => queue.enqueue(1, { prio: 5 } as never), FlowgateConfigError, /prio=5: unknown option.*priority/],
        ['dequeue(null)', () => queue.dequeue(null as never), FlowgateArgumentError, /options=null/],
        ['dequeue typo', () => queue.dequeue({ timout: '10ms' } as never), FlowgateConfigError, /timout="10ms": unknown option/],
        ['dequeue signal', () => queue.dequeue({ timeout: '100ms', signal: 'x' as never }), FlowgateArgumentError, /signal="x": must be an AbortSignal/],
        ['BigInt item', () => queue.enqueue(10n), FlowgateArgumentError, /item=10n: must be a JSON value \(Do not know how to serialize a BigInt\)/],
        ['BigInt inside', () => queue.enqueue({ n: 10n }), FlowgateArgumentError, /must be a JSON value \(Do not know how to serialize a BigInt\)/],
        ['circular item', () => queue.enqueue(circular), FlowgateArgumentError, /must be a JSON value \(Converting circular structure to JSON/],
        ['consume(h, null)', () => queue.consume(() => undefined, null as never), FlowgateArgumentError, /options=null/],
      ];
      for (const [what, call, type, message] of refusals) {
        let error: unknown;
        try {
          await call();
        } catch (e) {
          error = e;
        }
        // The previous code: TypeErrors (null options, a non-signal, BigInt, circular), and an enqueue with a typo stored the item.
        expect([what, error instanceof type, String((error as Error | undefined)?.message)]).toEqual([what, true, expect.stringMatching(message)]);
      }
      for (const [key, value] of [['root', '/other'], ['auth', 'u:p'], ['callTimeout', '5s']] as const) {
        // The previous code accepted them and used the store's own.
        expect(() => new DistributedQueue({ store, name: 'checks', [key]: value })).toThrow(FlowgateConfigError);
        expect(() => new DistributedQueue({ store, name: 'checks', [key]: value })).toThrow(new RegExp(`option ${key}=.*applies only with \`connect\``));
      }
      expect(await queue.size()).toBe(0);
    } finally {
      await queue.close();
      await store.close();
    }
  });

  test('maxItemBytes bounds the item\'s own JSON, not the stored envelope', async () => {
    const queue = new DistributedQueue<string>({ connect: zk.connect, root, name: 'sizes', maxItemBytes: 1000 });
    try {
      // JSON of a string of n characters: n + 2 bytes.
      const exact = 'x'.repeat(998);
      // The previous code refused it: 1028 bytes with its envelope.
      await expect(queue.enqueue(exact)).resolves.toMatch(/^_c_/);
      await expect(queue.enqueue(`${exact}x`)).rejects.toThrow(/invalid item="1001 bytes of JSON": must be at most maxItemBytes=1000/);
      expect(await queue.tryDequeue()).toBe(exact);
      expect(await queue.size()).toBe(0);
    } finally {
      await queue.close();
    }
  });
});

describe("a multi's versions (the claim multi of a consumer counts on them)", () => {
  test('a version of 0 in a transaction means version 0, not any version (node-zookeeper-client builds 0 as -1)', async () => {
    const session = new ZooKeeperSession({ connect: zk.connect, sessionTimeoutMs: 6_000, callTimeoutMs: 2_000 });
    session.start();
    try {
      await session.ready(10_000);
      const path = `${root}-multi-version`;
      await session.mkdirp(path, undefined);
      // Version 0 on a node at version 0: applied (now version 1).
      await session.transaction([{ op: 'setData', path, data: Buffer.from('one'), version: 0 }]);
      // Version 0 again, the node at version 1: refused, as a check of version 0 is.
      const codes: Array<number | undefined> = [];
      for (const op of [{ op: 'setData' as const, path, data: Buffer.from('two'), version: 0 }, { op: 'check' as const, path, version: 0 }, { op: 'remove' as const, path, version: 0 }]) {
        codes.push(await session.transaction([op]).then(() => undefined, (error: unknown) => zkCode(error)));
      }
      expect(codes).toEqual([ZkCode.BAD_VERSION, ZkCode.BAD_VERSION, ZkCode.BAD_VERSION]);
      expect((await session.getData(path)).data?.toString()).toBe('one');
      // -1 stays any version.
      await session.transaction([{ op: 'remove', path, version: -1 }]);
    } finally {
      await session.close();
    }
  });
});
