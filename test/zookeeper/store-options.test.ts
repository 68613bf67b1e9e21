// ZooKeeperStore options: defaults, and a FlowgateConfigError naming the option and the value at construction time (no server needed).

import { DistributedQueue, FlowgateArgumentError, FlowgateConfigError, MemoryStore, ZooKeeperStore } from '../../src/index.js';
import { resolveZooKeeperStoreOptions } from '../../src/stores/zookeeper/zookeeper-store-options.js';

const CONNECT = '127.0.0.1:2181';

/** The error `new ZooKeeperStore(options)` throws, or a failure if it throws none. */
function constructionError(options: Record<string, unknown>): FlowgateConfigError {
  try {
    const store = new ZooKeeperStore(options as unknown as ConstructorParameters<typeof ZooKeeperStore>[0]);
    void store.close();
  } catch (error) {
    expect(error).toBeInstanceOf(FlowgateConfigError);
    return error as FlowgateConfigError;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

describe('ZooKeeperStore options', () => {
  test('defaults, in ms', () => {
    expect(resolveZooKeeperStoreOptions({ connect: CONNECT })).toEqual({
      connect: CONNECT,
      root: '/flowgate',
      sessionTimeoutMs: 6_000,
      auth: undefined,
      onUnavailable: 'local',
      unavailableAfterMs: 1_000,
      leaseWindowMs: 250,
      maxLeaseWindowMs: 500,
      cleanupAfterMs: 30_000,
      countAsMember: true,
    });
  });

  test('maxLeaseWindow follows a leaseWindow longer than its default, and takes a duration string', () => {
    expect(resolveZooKeeperStoreOptions({ connect: CONNECT, leaseWindow: '5s' }).maxLeaseWindowMs).toBe(5_000);
    expect(resolveZooKeeperStoreOptions({ connect: CONNECT, maxLeaseWindow: '2s' }).maxLeaseWindowMs).toBe(2_000);
    expect(resolveZooKeeperStoreOptions({ connect: CONNECT, leaseWindow: 100, maxLeaseWindow: 100 }).maxLeaseWindowMs).toBe(100);
  });

  test.each([
    [{ connect: 'localhost' }, 'connect', /connection string/],
    [{ connect: CONNECT, onUnavailable: 'sometimes' }, 'onUnavailable', /'local', 'open' or 'closed'/],
    [{ connect: CONNECT, auth: 'no-colon' }, 'auth', /user:password/],
    [{ connect: CONNECT, leaseWindow: 5 }, 'leaseWindow', /at least 10 ms/],
    [{ connect: CONNECT, maxLeaseWindow: '100ms' }, 'maxLeaseWindow', /at least leaseWindow \(250 ms\)/],
    [{ connect: CONNECT, maxLeaseWindow: 'soon' }, 'maxLeaseWindow', /a string such as '500ms'/],
    [{ connect: CONNECT, maxLeaseWindow: -1 }, 'maxLeaseWindow', />= 0/],
    [{ connect: CONNECT, maxLeaseWindow: 0 }, 'maxLeaseWindow', /at least leaseWindow/],
    [{ connect: CONNECT, sessionTimeout: 500, leaseWindow: 5 }, 'sessionTimeout', /at least 1000 ms/],
    [{ connect: CONNECT, sessionTimeout: 500 }, 'sessionTimeout', /at least 1000 ms/],
    [{ connect: CONNECT, sessionTimeout: -5 }, 'sessionTimeout', /sessionTimeout=-5: a number of milliseconds >= 1000 or a string/],
    [{ connect: CONNECT, leasewindow: '1s' }, 'leasewindow', /did you mean 'leaseWindow'/],
    [{ connect: 'a:1/bad//x' }, 'connect', /connection string/],
    [{ connect: 'a:1/bad/' }, 'connect', /connection string/],
    [{ connect: CONNECT, cleanupAfter: -1 }, 'cleanupAfter', />= 0/],
    // Ports past 65535 threw from inside the client's socket, uncaught, once the store connected.
    [{ connect: '127.0.0.1:99999' }, 'connect', /127\.0\.0\.1:99999.*port from 1 to 65535/],
    [{ connect: '10.0.0.1:2181,10.0.0.2:0/app' }, 'connect', /port from 1 to 65535/],
    // Each is armed as a timer: Node fires a longer one after 1 ms (every probe, sweep or cleanup without pause).
    [{ connect: CONNECT, sessionTimeout: 1e12 }, 'sessionTimeout', /sessionTimeout=1000000000000: must be at most 2147483647 ms/],
    [{ connect: CONNECT, unavailableAfter: 2_160_000_000 }, 'unavailableAfter', /unavailableAfter=2160000000: must be at most 2147483647 ms/],
    [{ connect: CONNECT, sessionTimeout: 2_147_483_648 }, 'sessionTimeout', /at most 2147483647 ms/],
    [{ connect: CONNECT, leaseWindow: '1000h' }, 'leaseWindow', /at most 2147483647 ms/],
    [{ connect: CONNECT, maxLeaseWindow: '1000h' }, 'maxLeaseWindow', /at most 2147483647 ms/],
    [{ connect: CONNECT, cleanupAfter: 2_147_483_648 }, 'cleanupAfter', /at most 2147483647 ms/],
    [{ connect: CONNECT, clock: {} }, 'clock', /now\(\) method/],
    [{ connect: CONNECT, countAsMember: 'no' }, 'countAsMember', /true or false/],
    [{ connect: CONNECT, root: 'flowgate' }, 'root', /must be an absolute znode path such as '\/flowgate'/],
    [{ connect: CONNECT, root: '/' }, 'root', /cannot be '\/' itself/],
  ])('%j is refused, naming %s', (options, option, allowed) => {
    const error = constructionError(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain(option);
    expect(error.message).toMatch(allowed);
  });
});

describe('DistributedQueue and MemoryStore options', () => {
  test.each([
    [{ name: 'q', connect: CONNECT, callTimeout: 'x' }, 'callTimeout', /a string such as/],
    [{ name: 'q', connect: CONNECT, callTimeout: 0 }, 'callTimeout', /at least 50 ms/],
    [{ name: 'q', connect: CONNECT, pollInterval: 0 }, 'pollInterval', /pollInterval=0: must be at least 50 ms \(each poll lists the queue\)/],
  ])('DistributedQueue %j is refused, naming %s', (options, option, allowed) => {
    let error: unknown;
    try {
      void new DistributedQueue(options as unknown as ConstructorParameters<typeof DistributedQueue>[0]).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FlowgateConfigError);
    expect((error as FlowgateConfigError).option).toBe(option);
    expect((error as Error).message).toMatch(allowed);
  });

  test.each([
    [{ clock: {} }, 'clock', /now\(\) method/],
    [{ clok: { now: () => 0 } }, 'clok', /unknown option/],
  ])('MemoryStore %j is refused, naming %s', (options, option, allowed) => {
    let error: unknown;
    try {
      new MemoryStore(options as ConstructorParameters<typeof MemoryStore>[0]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FlowgateConfigError);
    expect((error as FlowgateConfigError).option).toBe(option);
    expect((error as Error).message).toMatch(allowed);
  });

  test.each([undefined, () => 1, Symbol('s')])('enqueue(%p) is refused: it would come back as nothing', async (item) => {
    const queue = new DistributedQueue<unknown>({ name: 'q', connect: '127.0.0.1:1', callTimeout: '100ms' });
    try {
      await expect(queue.enqueue(item)).rejects.toBeInstanceOf(FlowgateArgumentError);
      await expect(queue.enqueue(item)).rejects.toThrow(/must be a JSON value/);
    } finally {
      await queue.close();
    }
  });
});
