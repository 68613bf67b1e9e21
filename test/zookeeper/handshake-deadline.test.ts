// Issue 3: "detects a dead connection itself and moves on to another server", also before the
// handshake: a connection attempt gets the client's connect timeout (sessionTimeout / servers, as
// in ZooKeeper's Java client) for its TCP connect and its handshake together. A slow handshake is
// waited for (not cut by the liveness probe, whose timed-out read was never sent), and one that
// never comes is given up.

import { ZooKeeperSession } from '../../src/stores/zookeeper/zookeeper-session.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { standaloneForFile } from './helpers/cluster.js';
import { FaultProxy } from './helpers/fault-proxy.js';

jest.setTimeout(60_000);

const zk = standaloneForFile('t-handshake-deadline', 27670, 'handshake');

/** A session behind a fault proxy, closed (with the proxy) after `run`. */
async function withSession(sessionTimeoutMs: number, run: (ctx: { proxy: FaultProxy; session: ZooKeeperSession; states: string[] }) => Promise<void>): Promise<void> {
  const proxy = await FaultProxy.inFrontOf(zk.connect);
  const session = new ZooKeeperSession({ connect: proxy.connect, sessionTimeoutMs, callTimeoutMs: 1_000 });
  const states: string[] = [];
  session.on('state', (state: string) => states.push(state));
  try {
    session.start();
    await session.ready(10_000);
    await run({ proxy, session, states });
  } finally {
    await session.close();
    await proxy.close();
  }
}

/** Cuts the session's connection and lets new ones in with `comeBack`; resolves once the cut is seen. */
async function cut(proxy: FaultProxy, session: ZooKeeperSession, comeBack: () => void): Promise<void> {
  proxy.down();
  await waitFor(() => session.state === 'suspended', 5_000, 'the session sees its connection gone');
  comeBack();
}

describe('a connection attempt has one deadline for its connect and its handshake', () => {
  test('a handshake slower than a probe period plus its read (3.5 s against 2 s + 1 s) is waited for: one attempt, connected when the reply comes', async () => {
    // sessionTimeout 6 s: probe every 2 s, each read 1 s; connect timeout 6 s (one server).
    await withSession(6_000, async ({ proxy, session, states }) => {
      await cut(proxy, session, () => proxy.slowHandshake(3_500));
      const before = proxy.forwarded;
      const cutAt = performance.now();
      await waitFor(() => session.state === 'connected', 15_000, 'the session connected again');
      const tookMs = performance.now() - cutAt;
      const attempts = proxy.forwarded - before;
      process.stdout.write(`[handshake-deadline] slow handshake: connected again after ${tookMs.toFixed(0)} ms, ${attempts} attempt(s); states ${states.join(',')}\n`);
      // The previous code cut each attempt when a probe read (queued before the attempt began, so
      // never sent) timed out: within 3 s of any attempt's start, so no attempt could last 3.5 s.
      expect(attempts).toBe(1);
      expect(tookMs).toBeGreaterThanOrEqual(3_500);
      expect(tookMs).toBeLessThan(6_000);
      // The session works on that connection.
      await expect(session.exists('/')).resolves.not.toBeNull();
    });
  });

  test('a handshake that never comes is given up after the connect timeout, and the next attempt connects', async () => {
    // sessionTimeout 3 s: connect timeout 3 s (one server).
    await withSession(3_000, async ({ proxy, session }) => {
      await cut(proxy, session, () => proxy.slowHandshake(Infinity));
      await waitFor(() => proxy.forwarded >= 2, 5_000, 'the first attempt after the cut');
      const mutedAt = performance.now();
      // Attempts from now on are answered.
      await sleep(200);
      proxy.forward();
      await waitFor(() => session.state === 'connected', 10_000, 'the session connected again');
      const tookMs = performance.now() - mutedAt;
      process.stdout.write(`[handshake-deadline] no handshake: connected again ${tookMs.toFixed(0)} ms after the unanswered attempt began\n`);
      expect(tookMs).toBeLessThan(3_000 + 1_000);
      await expect(session.exists('/')).resolves.not.toBeNull();
    });
  });
});
