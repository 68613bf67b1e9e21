// Turns the cluster bench's raw runs into per-variant medians, ratios against bare, and the issues' goal verdicts.
import { THROUGHPUT_VARIANTS } from './throughput.mjs';
import { VARIANTS } from './limiters.mjs';

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const sum = (values) => values.reduce((a, b) => a + b, 0);

/** Above this many cores used outside the apps, the loader, ZooKeeper and Redis, a measurement counts as disturbed. */
export const DISTURBED_OTHER_CPU = 0.25;
const disturbed = (run) => (run.cpu.other ?? 0) > DISTURBED_OTHER_CPU;

/** CPU µs per request of a process group in one run (NaN when the run is missing). */
function cpuPerRequest(run, group) {
  return run === undefined ? NaN : (run.cpu.cores[group] * 1e6) / run.result.requestsPerSecond;
}

function quietRatio(runs, bare) {
  const ratios = runs.flatMap((r) => {
    const b = bare.find((x) => x.round === r.round);
    return b === undefined || disturbed(r) || disturbed(b) ? [] : [r.result.requestsPerSecond / b.result.requestsPerSecond];
  });
  return { ratio: ratios.length > 0 ? median(ratios) : null, rounds: ratios.length };
}

/** Per throughput variant: median req/s, ratio to bare (of medians, and paired per round), p99, CPU per request, ZooKeeper writes. */
export function summarizeThroughput(runs) {
  const of = (variant) => runs.filter((r) => r.variant === variant);
  const bare = of('bare');
  const bareRps = median(bare.map((r) => r.result.requestsPerSecond));
  return THROUGHPUT_VARIANTS.filter((variant) => runs.some((r) => r.variant === variant)).map((variant) => {
    const mine = of(variant);
    const rps = mine.map((r) => r.result.requestsPerSecond);
    const coordinator = VARIANTS[variant].coordinator;
    const zk = mine.filter((r) => r.zookeeper !== undefined);
    return {
      name: variant,
      label: VARIANTS[variant].label,
      rounds: mine.length,
      requestsPerSecond: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps), perRound: rps },
      ratioToBare: median(rps) / bareRps,
      pairedRatioToBare: median(mine.map((r) => r.result.requestsPerSecond / (bare.find((b) => b.round === r.round)?.result.requestsPerSecond ?? NaN))),
      // Over the rounds where neither this variant's nor bare's measurement was disturbed by other work.
      quietRatioToBare: quietRatio(mine, bare),
      p99LatencyMs: median(mine.map((r) => r.result.latencyMs.p99)),
      appCpuMicrosPerRequest: median(mine.map((r) => (r.cpu.cores.apps * 1e6) / r.result.requestsPerSecond)),
      // Capacity by CPU, less sensitive to other load than req/s: per round, bare's app CPU per
      // request over this variant's (with the ZooKeeper or Redis servers' CPU added: the cluster's
      // whole cost), then the median over rounds.
      cpuRatioToBare: median(mine.map((r) => cpuPerRequest(bare.find((b) => b.round === r.round), 'apps') / cpuPerRequest(r, 'apps'))),
      cpuRatioToBareWithStoreServer: median(mine.map((r) => cpuPerRequest(bare.find((b) => b.round === r.round), 'apps') / (cpuPerRequest(r, 'apps') + (coordinator ? cpuPerRequest(r, coordinator) : 0)))),
      storeServerCpuMicrosPerRequest: coordinator === undefined ? null : median(mine.map((r) => (r.cpu.cores[coordinator] * 1e6) / r.result.requestsPerSecond)),
      cpu: {
        apps: median(mine.map((r) => r.cpu.cores.apps)),
        loader: median(mine.map((r) => r.cpu.cores.loader)),
        zookeeper: median(mine.map((r) => r.cpu.cores.zookeeper)),
        redis: median(mine.map((r) => r.cpu.cores.redis)),
        other: median(mine.map((r) => r.cpu.other ?? NaN)),
      },
      errors: sum(mine.map((r) => r.result.errors + r.appErrors)),
      non2xx: sum(mine.map((r) => r.result.non2xx)),
      zookeeper: zk.length === 0 ? null : {
        writes: sum(zk.map((r) => r.zookeeper.writes)),
        conflicts: sum(zk.map((r) => r.zookeeper.conflicts)),
        admitted: sum(zk.map((r) => r.admitted)),
        writesPerAdmitted: sum(zk.map((r) => r.zookeeper.writes)) / sum(zk.map((r) => r.admitted)),
        perRound: zk.map((r) => r.zookeeper.writesPerAdmitted),
      },
    };
  });
}

/** Per limited variant: admitted against its own bound (median over rounds), offered load, ZooKeeper writes under overload. */
export function summarizeAccuracy(runs) {
  const variants = [...new Set(runs.map((r) => r.variant))];
  return variants.map((variant) => {
    const mine = runs.filter((r) => r.variant === variant);
    const zk = mine.filter((r) => r.zookeeper !== undefined);
    return {
      name: variant,
      label: VARIANTS[variant].label,
      rounds: mine.length,
      formula: mine.at(-1).formula,
      offeredPerSecond: median(mine.map((r) => r.offeredPerSecond)),
      offeredTarget: mine[0].offeredTarget,
      admitted: median(mine.map((r) => r.admitted)),
      admittedSeconds: median(mine.map((r) => r.admittedSeconds)),
      bound: median(mine.map((r) => r.bound)),
      ofBound: median(mine.map((r) => r.ofBound)),
      ofBoundPerRound: mine.map((r) => r.ofBound),
      underOfferedRounds: mine.filter((r) => r.underOffered).length,
      ofRateTimesT: median(mine.map((r) => r.ofRateTimesT)),
      steadyPerSecond: median(mine.map((r) => r.timeline.steadyPerSecond)),
      rate: mine[0].limits.rate,
      errors: sum(mine.map((r) => r.result.errors + r.appErrors)),
      zookeeper: zk.length === 0 ? null : {
        writes: sum(zk.map((r) => r.zookeeper.writes)),
        conflicts: sum(zk.map((r) => r.zookeeper.conflicts)),
        admitted: sum(zk.map((r) => r.admitted)),
        writesPerAdmitted: sum(zk.map((r) => r.zookeeper.writes)) / sum(zk.map((r) => r.admitted)),
      },
    };
  });
}

/** DistributedQueue items/s and raw create+delete pairs/s: medians and their ratio. */
export function summarizeQueue({ raw, queue }) {
  const rawPairs = median(raw.map((r) => r.pairsPerSecond));
  const items = median(queue.map((q) => q.itemsPerSecond));
  return {
    rawPairsPerSecond: rawPairs,
    rawPerRound: raw.map((r) => r.pairsPerSecond),
    itemsPerSecond: items,
    itemsPerRound: queue.map((q) => q.itemsPerSecond),
    enqueuePerSecond: median(queue.map((q) => q.enqueuePerSecond)),
    ratioToRaw: items / rawPairs,
    idlePickupMs: queue.flatMap((q) => q.idlePickupMs),
    claims: {
      creates: sum(queue.map((q) => q.claims.creates)),
      itemAlreadyGone: sum(queue.map((q) => q.claims.itemAlreadyGone)),
      lostRaces: sum(queue.map((q) => q.claims.lostRaces)),
      items: sum(queue.map((q) => q.items)),
    },
    perConsumer: queue.map((q) => q.perConsumer),
    duplicates: sum(queue.map((q) => q.duplicates)),
    missing: sum(queue.map((q) => q.missing)),
  };
}

/** The goals of issues 3 and 4 that this run can judge, each `{ goal, passed, detail }` (passed null: not measured). */
export function checkGoals({ throughput, accuracy, queue, overflow }) {
  const goals = [];
  const fmt = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
  if (throughput) {
    const of = (name) => throughput.find((s) => s.name === name);
    const fg = of('flowgate');
    goals.push({ goal: 'flowgate + ZooKeeper >= 0.95 × bare req/s (3 processes each)', passed: fg.ratioToBare >= 0.95, detail: `${fmt(fg.ratioToBare)} × bare (ratio of medians; paired per round ${fmt(fg.pairedRatioToBare)}; ${fg.quietRatioToBare.rounds} undisturbed round(s): ${fg.quietRatioToBare.ratio === null ? 'none' : fmt(fg.quietRatioToBare.ratio)}; by app CPU per request ${fmt(fg.cpuRatioToBare)})` });
    for (const peer of ['erl-redis', 'rlf-redis']) {
      const p = of(peer);
      goals.push({
        goal: `flowgate ahead of ${p.label}`,
        passed: fg.requestsPerSecond.median > p.requestsPerSecond.median,
        detail: `${fmt(fg.requestsPerSecond.median / p.requestsPerSecond.median)} × ${peer} in req/s; by CPU per request (apps + ZooKeeper/Redis servers) ${fmt(fg.cpuRatioToBareWithStoreServer / p.cpuRatioToBareWithStoreServer)} ×`,
      });
    }
    goals.push({ goal: '<= 0.01 ZooKeeper writes per admitted request at steady state', passed: fg.zookeeper.writesPerAdmitted <= 0.01, detail: `${fmt(fg.zookeeper.writesPerAdmitted, 5)} (${fg.zookeeper.writes} writes / ${fg.zookeeper.admitted} admitted)` });
    const failing = throughput.filter((s) => s.errors > 0 || s.non2xx > 0);
    goals.push({ goal: 'throughput runs: no errors or non-2xx answers (sanity)', passed: failing.length === 0, detail: failing.length === 0 ? 'none' : failing.map((s) => `${s.name}: ${s.errors} errors, ${s.non2xx} non-2xx`).join('; ') });
  }
  if (accuracy) {
    const fg = accuracy.find((s) => s.name === 'flowgate');
    if (fg) {
      const note = fg.underOfferedRounds > 0 ? `; ${fg.underOfferedRounds} of ${fg.rounds} round(s) under-offered (< 1.5 × rate): not a measure of the limiter` : '';
      goals.push({ goal: 'flowgate admitted within [95%, 105%] of burst + rate × T (issue 3 aim)', passed: fg.ofBound >= 0.95 && fg.ofBound <= 1.05, detail: `${fmt(fg.ofBound * 100, 1)}%${note}` });
    }
  }
  if (queue) {
    goals.push({ goal: 'DistributedQueue: every item delivered once (sanity)', passed: queue.duplicates === 0 && queue.missing === 0, detail: `${queue.duplicates} duplicates, ${queue.missing} missing` });
  }
  if (overflow) {
    const b = overflow.burst;
    const g = overflow.groupedOrder;
    const c = overflow.order;
    const writes = (s) => `${fmt(s.writesPerWaited, 4)} (${s.writes} writes / ${s.waited} waited)${s.floor ? `; floor for these arrivals ${fmt(s.floor.perWaited, 4)}` : ''}`;
    goals.push({ goal: '<= 0.05 ZooKeeper writes per queued request (burst over 3 processes)', passed: b.writesPerWaited <= 0.05, detail: writes(b) });
    if (g) goals.push({ goal: `<= 0.05 ZooKeeper writes per queued request (burst in a known interleaving: groups of ${g.groupSize} every ${g.spacingMs} ms)`, passed: g.writesPerWaited <= 0.05, detail: writes(g) });
    // One by one every 12 ms, the queue's waits stay short for its first second: the fewest writes any arrival-order design needs for these arrivals (the floor) is about 0.05 itself.
    goals.push({ goal: `<= 0.05 ZooKeeper writes per queued request (requests one by one, spaced ${c.spacingMs} ms)`, passed: c.writesPerWaited <= 0.05, detail: writes(c) });
    for (const [name, s] of [['burst', b], ...(g ? [['burst in groups', g]] : []), ['spaced', c]]) {
      const all = s.statuses['200'] === s.requests;
      goals.push({ goal: `overflow queue (${name}): every request served within maxWait`, passed: all && s.maxWaitedMs <= 15_000, detail: `statuses ${JSON.stringify(s.statuses)}, max wait ${Math.round(s.maxWaitedMs)} ms` });
    }
    for (const [name, s] of [...(g ? [[`burst in groups of ${g.groupSize}, groups ${g.spacingMs} ms apart`, g]] : []), [`one by one, ${c.spacingMs} ms apart`, c]]) {
      // The issue's promise is about requests that were enqueued (waited): one enqueued earlier is not overtaken by one enqueued later.
      const beyond = s.inversions.amongWaited.beyondWindow;
      const served = s.inversions.all.beyondWindow;
      goals.push({
        goal: `no inversion of enqueued requests that arrived more than ${beyond.windowMs} ms apart (${name})`,
        passed: beyond.inversions === 0,
        detail:
          `${beyond.inversions} of ${beyond.pairs} such pairs${beyond.worst ? ` (worst: arrived ${beyond.worst.arrivalGapMs} ms apart, ${beyond.worst.sinceStartMs} ms after the first request, overtaken by ${beyond.worst.overtakeMs} ms; the latest such pair ${beyond.latestSinceStartMs} ms after the first request)` : ''}; ` +
          `all served, with those served at once: ${served.inversions} of ${served.pairs}${served.worst ? ` (the latest ${served.latestSinceStartMs} ms after the first request)` : ''}`,
      });
    }
    const w = overflow.wideOrder;
    if (w) {
      // Not a goal of the issue: the figure of the trade a wider queue.batchWindow makes.
      goals.push({ goal: `(trade-off, queue.batchWindow ${w.batchWindowMs} ms) ZooKeeper writes per queued request, requests spaced ${w.spacingMs} ms`, passed: w.writesPerWaited <= 0.05, detail: `${fmt(w.writesPerWaited, 4)} (${w.writes} writes / ${w.waited} waited); inversions among waiters ${w.inversions.amongWaited.inversions} of ${w.inversions.amongWaited.pairs} pairs, max overtake ${w.inversions.amongWaited.maxOvertakeMs} ms` });
    }
  }
  return goals;
}
