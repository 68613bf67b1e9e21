// ZooKeeperPermitStore on a real ZooKeeper: a limiter closed while requests hold permits gives those
// permits back as the requests release them, although its ZooKeeperStore (and session) lives on;
// another member can then use the whole limit again.

import { createConcurrencyLimiter, ZooKeeperStore } from '../../src/index.js';
import { decodePermits } from '../../src/stores/zookeeper/permit-codec.js';
import { permitPath } from '../../src/stores/zookeeper/zookeeper-permit-store.js';
import { waitFor } from '../helpers/wait.js';
import { standaloneForFile } from '../zookeeper/helpers/cluster.js';
import { RawClient } from '../zookeeper/helpers/raw-client.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-concurrency-close-in-flight', 28442, 'permitsclose');

test('permits in flight at close are given back when released, while the shared store lives on', async () => {
  const a = new ZooKeeperStore({ connect: zk.connect, root: zk.root, sessionTimeout: '2s' });
  const b = new ZooKeeperStore({ connect: zk.connect, root: zk.root, sessionTimeout: '2s' });
  const raw = await RawClient.connect(zk.connect);
  const held = async (): Promise<Record<string, number>> => {
    try {
      return { ...decodePermits((await raw.getData(permitPath(zk.root, 'uploads', 'k'))).data).held };
    } catch {
      return {};
    }
  };
  const first = createConcurrencyLimiter({ concurrency: 2, name: 'uploads', store: a });
  const second = createConcurrencyLimiter({ concurrency: 2, name: 'uploads', store: b });
  try {
    await Promise.all([a.ready(15_000), b.ready(15_000)]);
    const running = [await first.acquire('k'), await first.acquire('k')];
    expect(running.map((d) => d.allowed)).toEqual([true, true]);
    await first.close();
    // Still in flight: still claimed, and the other member is refused.
    expect(Object.values(await held())).toEqual([2]);
    expect((await second.acquire('k')).allowed).toBe(false);

    for (const decision of running) decision.permit?.release();
    await waitFor(async () => Object.keys(await held()).length === 0, 10_000, 'the released permits given back');
    // Store `a` is still open: the other member now gets the whole limit.
    const later = [await second.acquire('k'), await second.acquire('k')];
    expect(later.map((d) => d.allowed)).toEqual([true, true]);
    for (const decision of later) decision.permit?.release();
  } finally {
    raw.close();
    await first.close();
    await second.close();
    await Promise.all([a.close(), b.close()]);
  }
});
