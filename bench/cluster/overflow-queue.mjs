// Scenarios 7b and 7c: the cluster-wide overflow queue on 3 app processes (limit 50/s, burst 5, maxWait 15 s): ZooKeeper writes per queued request, cross-process order inversions.
import { startApps, total } from './app-cluster.mjs';
import { Offer } from './http-offer.mjs';
import { arrivalVsSend, inversions } from './order.mjs';

/**
 * Starts the 3 queueing apps, offers requests with `send(offer)`, and resolves with `{ summary,
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
    queue: { maxSize: o.maxSize, maxWaitMs: o.maxWaitMs, ...(batchWindowMs !== undefined && { batchWindowMs }) },
    order: true,
  }, ctx.env);
  const offer = new Offer(apps.ports);
  try {
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
    const calls = after.flatMap((s, i) => s.limiter.reserveCalls.slice(before[i].limiter.reserveCalls.length));
    const ms = calls.map((c) => c.ms).sort((x, y) => x - y);
    const at = (q) => (ms.length === 0 ? NaN : ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]);
    const reserve = { calls: calls.length, meanBatch: calls.reduce((n, c) => n + c.batch, 0) / calls.length, ms: { p50: at(0.5), p99: at(0.99), max: at(1) } };
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
 * 7c: `orderRequests` spaced `spacingMs` apart, id i to app i mod 3; inversions of arrival vs admission order.
 * `batchWindowMs`: the apps' `queue.batchWindow` (default: the library's 5 ms).
 */
async function measureOrder(ctx, batchWindowMs) {
  const o = ctx.config.overflow;
  const name = batchWindowMs === undefined ? 'overflow-order' : `overflow-order-${batchWindowMs}ms`;
  const { summary: run, served } = await runScenario(name, ctx, (offer) => offer.schedule(o.orderRequests, o.spacingMs, o.maxWaitMs + 15_000), batchWindowMs);
  const items = served.map((a) => ({ id: a.id, pid: a.body.pid, arrivedAt: a.body.arrivedAt, admittedAt: a.body.admittedAt, waited: a.body.waitedMs > 0 }));
  const all = inversions(items);
  const amongWaited = inversions(items.filter((i) => i.waited));
  const result = { ...run, spacingMs: o.spacingMs, batchWindowMs: batchWindowMs ?? 5, inversions: { all, amongWaited }, transportReorderedPairs: arrivalVsSend(items) };
  const line = (r) => `${r.inversions} of ${r.pairs} pairs (${r.involved} requests; max overtake ${r.maxOvertakeMs} ms, max arrival gap ${r.maxArrivalGapMs} ms)`;
  ctx.log(
    `  overflow order (batch window ${batchWindowMs ?? 5} ms): ${run.requests} requests every ${o.spacingMs} ms -> statuses ${JSON.stringify(run.statuses)} in ${run.seconds.toFixed(1)} s; waited ${run.waited}; ` +
      `zk writes ${run.writes} (${run.conflicts} conflicts) = ${run.writesPerWaited.toFixed(4)} per waiting request; ${reserveLine(run.reserve)}\n` +
      `    inversions, all served: ${line(all)}\n    inversions among waiters: ${line(amongWaited)}; arrival order differed from send order in ${result.transportReorderedPairs} pairs`,
  );
  return result;
}

/** Both overflow-queue scenarios, on fresh app processes each. */
export async function measureOverflowQueue(ctx) {
  const o = ctx.config.overflow;
  ctx.log(`overflow queue: 3 apps, rate ${o.rate}/s, burst ${o.burst}, maxWait ${o.maxWaitMs / 1000} s, maxSize ${o.maxSize}; burst of ${o.burstRequests}; ${o.orderRequests} requests every ${o.spacingMs} ms`);
  const burst = await measureBurst(ctx);
  const order = await measureOrder(ctx);
  // The same spaced arrivals with a wider batching window: fewer writes, order kept only within the window.
  const wideOrder = await measureOrder(ctx, o.wideBatchWindowMs);
  return { burst, order, wideOrder };
}
