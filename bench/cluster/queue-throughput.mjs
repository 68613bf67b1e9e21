// Scenario 7a: DistributedQueue items/s (1 producer, 3 consumers) against the raw ZooKeeper create+delete rate, alternating on one ensemble.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkChild, stopChild } from './children.mjs';
import { startCpuMeter } from './cpu-meter.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Raw create+delete pairs for `rawSeconds`, `rawInFlight` at a time, from one fresh process. */
async function measureRaw(round, ctx) {
  const q = ctx.config.queue;
  const raw = forkChild(join(here, 'zk-raw-worker.mjs'), {
    env: { FLOWGATE_BENCH_RAW: JSON.stringify({ connect: ctx.services.zookeeper.connect, parent: `${ctx.root}/raw-r${round}` }) },
    label: 'zk-raw-worker',
  });
  try {
    await raw.hello;
    const meter = startCpuMeter({ client: [raw.pid], zookeeper: ctx.services.zookeeper.pids });
    const result = await raw.call('run', { seconds: q.rawSeconds, inFlight: q.rawInFlight }, q.rawSeconds * 1000 + 30_000);
    const cpu = meter.stop();
    ctx.log(`  round ${round} raw create+delete: ${Math.round(result.pairsPerSecond)} pairs/s (${result.errors} errors)  CPU client ${pct(cpu.cores.client)} zk ${pct(cpu.cores.zookeeper)} other ${pct(cpu.other)}`);
    return { ...result, cpu };
  } finally {
    await stopChild(raw.child);
  }
}

/**
 * Latency from enqueue to handling of single items offered to idle consumers (the queue empty
 * and quiet for a while before each): how fast a waiting consumer notices a new item.
 */
async function idlePickup(producer, consumers, samples = 3) {
  const latencies = [];
  for (let k = 0; k < samples; k++) {
    await sleep(1200 + 300 * k); // idle: longer than the consumers' own poll interval (1 s)
    const i = 1e9 + k;
    const { sentAt } = await producer.call('probe', { i });
    const deadline = performance.now() + 10_000;
    let handledAt = null;
    while (handledAt === null && performance.now() < deadline) {
      await sleep(5);
      handledAt = (await Promise.all(consumers.map((c) => c.call('probeTime', { i })))).find((t) => t !== null) ?? null;
    }
    latencies.push(handledAt === null ? NaN : handledAt - sentAt);
  }
  return latencies;
}

/** `items` through a fresh queue: 1 producer enqueueing `producerInFlight` at a time, `consumers` consumer processes. */
async function measureQueue(round, ctx) {
  const q = ctx.config.queue;
  const base = { connect: ctx.services.zookeeper.connect, root: ctx.root, name: `dq-r${round}` };
  const worker = (role, i) =>
    forkChild(join(here, 'dq-worker.mjs'), {
      env: { ...ctx.env, FLOWGATE_BENCH_DQ: JSON.stringify({ ...base, role, concurrency: q.consumerConcurrency }) },
      label: `dq ${role}${i ?? ''}`,
    });
  const consumers = Array.from({ length: q.consumers }, (_, i) => worker('consumer', i + 1));
  const producer = worker('producer');
  const all = [producer, ...consumers];
  try {
    await Promise.all(all.map((w) => w.hello));
    await Promise.all(consumers.map((c) => c.call('consume')));
    const meter = startCpuMeter({ producer: [producer.pid], consumers: consumers.map((c) => c.pid), zookeeper: ctx.services.zookeeper.pids });
    const produced = await producer.call('produce', { items: q.items, inFlight: q.producerInFlight }, 300_000);
    // Bounded wait for the consumers to drain the queue.
    const deadline = performance.now() + 120_000;
    let counts;
    for (;;) {
      counts = await Promise.all(consumers.map((c) => c.call('count')));
      if (counts.reduce((n, c) => n + c.consumed, 0) >= q.items || performance.now() > deadline) break;
      await sleep(50);
    }
    const cpu = meter.stop();
    counts = await Promise.all(consumers.map((c) => c.call('count', { ids: true })));
    const ids = counts.flatMap((c) => c.ids);
    const unique = new Set(ids).size;
    const consumed = ids.length;
    const lastAt = Math.max(...counts.map((c) => c.lastAt ?? -Infinity));
    const seconds = (lastAt - produced.startedAt) / 1000;
    // Once per run (it idles about 4.5 s): the first round only.
    const pickup = round === 1 ? await idlePickup(producer, consumers) : [];
    const result = {
      items: q.items,
      consumed,
      duplicates: consumed - unique,
      missing: q.items - unique,
      perConsumer: counts.map((c) => c.consumed),
      claims: {
        creates: counts.reduce((n, c) => n + c.claims.creates, 0),
        lostRaces: counts.reduce((n, c) => n + c.claims.lost, 0),
        itemAlreadyGone: counts.reduce((n, c) => n + c.claims.stale, 0),
      },
      seconds,
      itemsPerSecond: unique / seconds,
      enqueuePerSecond: q.items / ((produced.finishedAt - produced.startedAt) / 1000),
      idlePickupMs: pickup,
      cpu,
    };
    ctx.log(
      `  round ${round} DistributedQueue: ${q.items} items in ${seconds.toFixed(2)} s = ${Math.round(result.itemsPerSecond)} items/s end to end ` +
        `(enqueue alone ${Math.round(result.enqueuePerSecond)}/s; per consumer ${result.perConsumer.join('/')}; duplicates ${result.duplicates}, missing ${result.missing}; ` +
        `claim attempts ${result.claims.creates}, lost ${result.claims.lostRaces}, item already gone ${result.claims.itemAlreadyGone}` +
        (pickup.length > 0 ? `; idle consumers picked a new item up after ${pickup.map((ms) => Math.round(ms)).join(', ')} ms` : '') + ')  ' +
        `CPU producer ${pct(cpu.cores.producer)} consumers ${pct(cpu.cores.consumers)} zk ${pct(cpu.cores.zookeeper)} other ${pct(cpu.other)}`,
    );
    return result;
  } finally {
    await Promise.all(all.map((w) => stopChild(w.child)));
  }
}

const pct = (cores) => (cores === undefined || Number.isNaN(cores) ? '  ?' : `${Math.round(cores * 100)}%`.padStart(4));

/** Alternates raw and queue measurements for `rounds` rounds; resolves with both lists. */
export async function measureQueueThroughput(ctx) {
  const q = ctx.config.queue;
  ctx.log(`queue: ${q.rounds} round(s) × (raw create+delete, ${q.rawInFlight} in flight, ${q.rawSeconds} s; DistributedQueue ${q.items} items, 1 producer × ${q.producerInFlight} in flight, ${q.consumers} consumers × concurrency ${q.consumerConcurrency})`);
  const raw = [];
  const queue = [];
  for (let round = 1; round <= q.rounds; round++) {
    raw.push(await measureRaw(round, ctx));
    queue.push(await measureQueue(round, ctx));
  }
  return { raw, queue };
}
