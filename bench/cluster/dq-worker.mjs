// A DistributedQueue producer or consumer process of the cluster bench (built package), driven over IPC.
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { announce, serveCommands, wallNow } from './child-ipc.mjs';

const { DistributedQueue } = loadFlowgate('flowgate');
const { connect, root, name, role, concurrency = 8 } = JSON.parse(process.env.FLOWGATE_BENCH_DQ ?? '{}');

const queue = new DistributedQueue({ connect, root, name });
await queue.size(); // connected, parents created

// Diagnostics only: count claim attempts and how they ended, by wrapping the queue's session (a
// private field; skipped if it is not there). A consumer's claim reads the item, then makes one
// multi (its claim node, and the item written back with its delivery counted): a read or a multi
// that finds no item (NO_NODE) is an item already gone (a stale listing, no write made); a multi
// failing otherwise lost to another consumer.
const claims = { creates: 0, lost: 0, stale: 0 };
const session = queue.session;
if (session && typeof session.transaction === 'function' && typeof session.getData === 'function') {
  const transaction = session.transaction.bind(session);
  session.transaction = async (ops, ...rest) => {
    const claim = ops.some((op) => op.op === 'create' && op.path.includes('/claims/'));
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
    if (path.includes('/items/')) claims.creates++;
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
