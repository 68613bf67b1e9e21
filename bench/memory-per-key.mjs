// Measures heap bytes per active key of flowgate's MemoryStore, and that refilled buckets are evicted (run with --expose-gc).
import { loadFlowgate } from './flowgate-under-test.mjs';

const { createLimiter, MemoryStore } = loadFlowgate('flowgate');

if (typeof globalThis.gc !== 'function') {
  console.error('memory-per-key.mjs: run it with `node --expose-gc bench/memory-per-key.mjs [keys]`');
  process.exit(2);
}

const keys = Number(process.argv[2] ?? 200_000);
if (!Number.isInteger(keys) || keys < 1 || keys > 2 ** 32) {
  console.error(`memory-per-key.mjs: keys must be an integer from 1 to 2^32, got ${process.argv[2]}`);
  process.exit(2);
}

/** Heap in use after full garbage collections. */
function settledHeap() {
  for (let i = 0; i < 3; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** A distinct IPv4-shaped key per index, like the Express adapter's default key. */
const keyOf = (i) => `${(i >>> 24) & 255}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;

// A fake clock, fractional like performance.now(), moved by hand: 1 µs per take while filling.
let now = 1_000_000.123;
const clock = { now: () => now };
const policy = { rate: 1, intervalMs: 1000, burst: 1000 };
const fullRefillMs = (policy.burst / policy.rate) * policy.intervalMs;
const store = new MemoryStore({ clock });
// Burst 1000 at 1 token/s: a bucket that gave 1 token is full again 1 s later, and the fill takes 0.2 s of fake time.
const limiter = createLimiter({ rate: policy.rate, interval: policy.intervalMs, burst: policy.burst, store, clock });

const baseline = settledHeap();

for (let i = 0; i < keys; i++) {
  now += 0.001;
  const decision = await limiter.take(keyOf(i));
  if (!decision.allowed) throw new Error(`take ${i} was not allowed: ${decision.reason}`);
}
const filledSize = store.size();
const filledHeap = settledHeap() - baseline;

// Jump past the full-refill time: every bucket is full again, but nothing runs until the next write.
now += fullRefillMs + 1;
const afterJumpSize = store.size();
await limiter.take('hot-key');
const afterOneTakeSize = store.size();

// Further traffic on one key: each write evicts a few full buckets from the front of the map.
let drainTakes = 0;
while (store.size() > 1 && drainTakes < keys) {
  await limiter.take('hot-key');
  drainTakes++;
}
const drainedSize = store.size();
const drainedHeap = settledHeap() - baseline;
await limiter.close();

const report = {
  keys,
  policy: { ...policy, fullRefillMs },
  baselineHeapBytes: baseline,
  filled: { size: filledSize, heapDeltaBytes: filledHeap },
  bytesPerKey: filledHeap / filledSize,
  afterJump: { size: afterJumpSize },
  afterOneTake: { size: afterOneTakeSize, evicted: afterJumpSize + 1 - afterOneTakeSize },
  drained: { takes: drainTakes, size: drainedSize, heapDeltaBytes: drainedHeap, takesDescription: 'all on one key' },
};
process.stdout.write(`${JSON.stringify(report)}\n`);
