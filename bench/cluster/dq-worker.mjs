// A DistributedQueue producer or consumer process of the cluster bench (built package), driven over IPC.
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { announce, serveCommands, wallNow } from './child-ipc.mjs';

const { DistributedQueue } = loadFlowgate('flowgate');
const { connect, root, name, role, concurrency = 8 } = JSON.parse(process.env.FLOWGATE_BENCH_DQ ?? '{}');

const queue = new DistributedQueue({ connect, root, name });
await queue.size(); // connected, parents created

// Diagnostics only: count claim attempts (check-and-create multis, or plain creates) and the claims
// that found their item already gone, by wrapping the queue's session (a private field; skipped if
// it is not there).
const claims = { creates: 0, lost: 0, stale: 0 };
const session = queue.session;
if (session && typeof session.create === 'function' && typeof session.getData === 'function') {
  const create = session.create.bind(session);
  session.create = async (path, ...rest) => {
    const claim = path.includes('/claims/');
    if (claim) claims.creates++;
    try {
      return await create(path, ...rest);
    } catch (error) {
      if (claim) claims.lost++;
      throw error;
    }
  };
  // Claims are check-and-create multis: a NO_NODE failure is an item already gone (a stale listing, no write made).
  const transaction = session.transaction.bind(session);
  session.transaction = async (ops, ...rest) => {
    const claim = ops.some((op) => op.op === 'create' && op.path.includes('/claims/'));
    if (claim) claims.creates++;
    try {
      return await transaction(ops, ...rest);
    } catch (error) {
      if (claim) {
        const code = typeof error?.getCode === 'function' ? error.getCode() : undefined;
        if (code === -101) claims.stale++;
        else claims.lost++;
      }
      throw error;
    }
  };
  const getData = session.getData.bind(session);
  session.getData = async (path, ...rest) => {
    try {
      return await getData(path, ...rest);
    } catch (error) {
      if (path.includes('/items/')) claims.stale++;
      throw error;
    }
  };
}

const seen = [];
let lastAt = null;
/** Probe items' handling times by id (consumers), for the idle pick-up latency. */
const probes = {};
let consumer;

const commands = {
  /** Producer: enqueues items { i } for i in [from, from + items), `inFlight` at a time. */
  async produce({ from = 0, items, inFlight }) {
    const startedAt = wallNow();
    let next = from;
    const end = from + items;
    const worker = async () => {
      while (next < end) await queue.enqueue({ i: next++ });
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, items) }, worker));
    return { startedAt, finishedAt: wallNow(), items };
  },
  /** Producer: enqueues one probe item { i, probe: true } and returns when it was sent. */
  async probe({ i }) {
    const sentAt = wallNow();
    await queue.enqueue({ i, probe: true });
    return { sentAt };
  },
  /** Consumer: when probe item `i` was handled here, or null. */
  async probeTime({ i }) {
    return probes[i] ?? null;
  },
  /** Consumer: starts consuming (noop handler that records the item). */
  async consume() {
    consumer ??= queue.consume(
      (item) => {
        if (item.probe) {
          probes[item.i] = wallNow();
          return;
        }
        seen.push(item.i);
        lastAt = wallNow();
      },
      { concurrency },
    );
    return true;
  },
  /** Consumer: items handled so far, and when the last one was. `ids` adds their ids. */
  async count({ ids = false }) {
    return { consumed: seen.length, lastAt, claims, ...(ids && { ids: seen }) };
  },
};

serveCommands(commands, async () => {
  await consumer?.stop();
  await queue.close();
});
announce({ role });
