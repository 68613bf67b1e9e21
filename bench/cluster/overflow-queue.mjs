// Scenarios 7b, 7c and 7d: the cluster-wide overflow queue on 3 app processes (limit 50/s, burst 5, maxWait 15 s): ZooKeeper writes per queued request, cross-process order inversions.
import { startApps, total } from './app-cluster.mjs';
import { Offer } from './http-offer.mjs';
import { arrivalVsSend, fewestWrites, inversions } from './order.mjs';

/** Requests each app serves on a key of its own before a scenario (burst 5: a few of them wait in its queue). */
const WARM_UP_REQUESTS = 10;

/**
 * Starts the 3 queueing apps (warmed up on keys of their own), offers requests with `send(offer)`, and resolves with `{ summary,
 * served }`: statuses, requests that waited (waitedMs > 0: they went through the overflow queue),
 * ZooKeeper writes, and the served answers.
 */
async function runScenario(name, ctx, send, batchWindowMs) {
  const o = ctx.config.overflow;
  const apps = await startApps(ctx.config.apps, {
    variant: 'flowgate',
    connect: ctx.services.zookeeper.connect,
    root: ctx.root,
    name,
    rate: o.rate,
    intervalMs: 1000,
    burst: o.burst,
    queue: { maxSize: o.maxSize, maxWaitMs: o.maxWaitMs, ...(batchWindowMs !== undefined && { batchWindowMs }), ...(o.orderGraceMs !== undefined && { orderGraceMs: o.orderGraceMs }) },
    order: true,
  }, ctx.env, { cpu: ctx.config.split ? 0 : undefined });
  const offer = new Offer(apps.ports);
  try {
    await offer.warmUp(WARM_UP_REQUESTS, 10_000);
    const before = await apps.stats();
    const t0 = performance.now();
    const answers = await send(offer);
    const seconds = (performance.now() - t0) / 1000;
    const after = await apps.stats();
    const served = answers.filter((a) => a.status === 200 && a.body?.admittedAt !== undefined);
    const waited = served.filter((a) => a.body.waitedMs > 0);
    const writes = total(after, 'writes', true) - total(before, 'writes', true);
    const conflicts = total(after, 'conflicts', true) - total(before, 'conflicts', true);
    const enqueueEvents = after.reduce((n, s, i) => n + s.limiter.events.enqueue - before[i].limiter.events.enqueue, 0);
    const calls = after.flatMap((s, i) => s.limiter.reserveCalls.slice(before[i].limiter.reserveCalls.length).map((c) => ({ ...c, app: i })));
    const firstCall = Math.min(...calls.map((c) => c.at));
    const ms = calls.map((c) => c.ms).sort((x, y) => x - y);
    const at = (q) => (ms.length === 0 ? NaN : ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]);
    const reserve = {
      calls: calls.length,
      meanBatch: calls.reduce((n, c) => n + c.batch, 0) / calls.length,
      ms: { p50: at(0.5), p99: at(0.99), max: at(1) },
      // Each call: its app, when it returned (ms after the first call returned: firstCallAt, Date.now()), its waiters, its duration (ms),
      // and the app's estimate of ZooKeeper's clock minus its wall clock then (ms; the spread between apps is their disagreement).
      firstCallAt: firstCall,
      timeline: calls.sort((x, y) => x.at - y.at).map((c) => [c.app, c.at - firstCall, c.batch, Math.round(c.ms), Math.round(c.serverAhead * 10) / 10]),
    };
    const statuses = {};
    for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    const summary = {
      requests: answers.length,
      seconds,
      statuses,
      served: served.length,
      waited: waited.length,
      enqueueEvents,
      maxWaitedMs: Math.max(0, ...served.map((a) => a.body.waitedMs)),
      writes,
      conflicts,
      writesPerWaited: writes / waited.length,
      reserve,
    };
    return { summary, served };
  } finally {
    offer.close();
    await apps.stop();
  }
}

const reserveLine = (r) => `${r.calls} reserve calls, mean batch ${r.meanBatch.toFixed(1)}, call time p50 ${r.ms.p50.toFixed(1)} / p99 ${r.ms.p99.toFixed(1)} / max ${r.ms.max.toFixed(1)} ms`;

/** 7b: `burstRequests` sent at once over the 3 apps; writes per request that waited. */
async function measureBurst(ctx) {
  const o = ctx.config.overflow;
  const { summary: run } = await runScenario('overflow-burst', ctx, (offer) => offer.burst(o.burstRequests, o.maxWaitMs + 15_000));
  ctx.log(
    `  overflow burst: ${run.requests} requests at once -> statuses ${JSON.stringify(run.statuses)} in ${run.seconds.toFixed(1)} s; waited ${run.waited} (enqueue events ${run.enqueueEvents}), ` +
      `max wait ${Math.round(run.maxWaitedMs)} ms; zk writes ${run.writes} (${run.conflicts} conflicts) = ${run.writesPerWaited.toFixed(4)} per waiting request; ${reserveLine(run.reserve)}`,
  );
  return run;
}

/**
 * 7c and 7d: `orderRequests` in groups of `groupSize` (1: one by one), one group every `spacingMs`,
 * group g to app g mod 3; inversions of arrival vs admission order, and the fewest writes any
 * arrival-order design would have needed for the same arrivals and turns (see `fewestWrites`).
 * `batchWindowMs`: the apps' `queue.batchWindow` (default: the library's 5 ms).
 */
async function measureOrder(ctx, { batchWindowMs, groupSize = 1 } = {}) {
  const o = ctx.config.overflow;
  const name = `overflow-order${groupSize > 1 ? `-groups${groupSize}` : ''}${batchWindowMs === undefined ? '' : `-${batchWindowMs}ms`}`;
  const { summary: run, served } = await runScenario(name, ctx, (offer) => offer.schedule(o.orderRequests, o.spacingMs, o.maxWaitMs + 15_000, groupSize), batchWindowMs);
  const items = served.map((a) => ({ id: a.id, pid: a.body.pid, arrivedAt: a.body.arrivedAt, admittedAt: a.body.admittedAt, waited: a.body.waitedMs > 0 }));
  const all = inversions(items);
  const amongWaited = inversions(items.filter((i) => i.waited));
  const floorWrites = fewestWrites(items.filter((i) => i.waited));
  const floor = { writes: floorWrites, perWaited: floorWrites / run.waited };
  const result = { ...run, spacingMs: o.spacingMs, groupSize, batchWindowMs: batchWindowMs ?? 5, floor, inversions: { all, amongWaited }, transportReorderedPairs: arrivalVsSend(items), items };
  const line = (r) => `${r.inversions} of ${r.pairs} pairs (${r.involved} requests; max overtake ${r.maxOvertakeMs} ms, max arrival gap ${r.maxArrivalGapMs} ms)`;
  const arrivals = groupSize > 1 ? `groups of ${groupSize} every ${o.spacingMs} ms` : `every ${o.spacingMs} ms`;
  ctx.log(
    `  overflow order (batch window ${batchWindowMs ?? 5} ms): ${run.requests} requests, ${arrivals} -> statuses ${JSON.stringify(run.statuses)} in ${run.seconds.toFixed(1)} s; waited ${run.waited}; ` +
      `zk writes ${run.writes} (${run.conflicts} conflicts) = ${run.writesPerWaited.toFixed(4)} per waiting request (floor for these arrivals ${floor.writes} = ${floor.perWaited.toFixed(4)}); ${reserveLine(run.reserve)}\n` +
      `    inversions, all served: ${line(all)}\n    inversions among waiters: ${line(amongWaited)}; arrival order differed from send order in ${result.transportReorderedPairs} pairs`,
  );
  return result;
}

/** Both overflow-queue scenarios, on fresh app processes each. */
export async function measureOverflowQueue(ctx) {
  const o = ctx.config.overflow;
  ctx.log(
    `overflow queue: 3 apps, rate ${o.rate}/s, burst ${o.burst}, maxWait ${o.maxWaitMs / 1000} s, maxSize ${o.maxSize}; burst of ${o.burstRequests}; ` +
      `${o.orderRequests} requests in groups of ${o.groupSize} every ${o.spacingMs} ms; ${o.orderRequests} requests every ${o.spacingMs} ms`,
  );
  const burst = await measureBurst(ctx);
  // The issue's burst in a known interleaving: groups to one app, the apps' groups spaced wider than the window.
  const groupedOrder = await measureOrder(ctx, { groupSize: o.groupSize });
  // One by one: the queue forms slowly, and its waits stay short for a while.
  const order = await measureOrder(ctx);
  // The same spaced arrivals with a wider batching window: fewer writes, order kept only within the window.
  const wideOrder = await measureOrder(ctx, { batchWindowMs: o.wideBatchWindowMs });
  return { burst, groupedOrder, order, wideOrder };
}
