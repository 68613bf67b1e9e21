// Markdown tables of the cluster bench's results: throughput, accuracy, ZooKeeper writes, queue rates, overflow queue, order, goals.
import { markdownTable } from '../table.mjs';

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fixed = (n, digits) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const pct = (x, digits = 1) => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '–');

export function throughputTable(summaries) {
  return markdownTable(
    ['variant (3 processes)', 'req/s (median)', 'req/s range', 'vs bare', 'vs bare, undisturbed rounds', 'p99 ms', 'app CPU µs/req', 'ZK/Redis CPU µs/req', 'vs bare by CPU/req: apps (+ ZK/Redis)', 'ZK writes / admitted', 'errors / non-2xx'],
    summaries.map((s) => [
      s.label,
      int(s.requestsPerSecond.median),
      `${int(s.requestsPerSecond.min)}–${int(s.requestsPerSecond.max)}`,
      fixed(s.ratioToBare, 3),
      s.quietRatioToBare.ratio === null ? `– (0 of ${s.rounds})` : `${fixed(s.quietRatioToBare.ratio, 3)} (${s.quietRatioToBare.rounds} of ${s.rounds})`,
      fixed(s.p99LatencyMs, 0),
      fixed(s.appCpuMicrosPerRequest, 1),
      s.storeServerCpuMicrosPerRequest === null ? '' : fixed(s.storeServerCpuMicrosPerRequest, 1),
      s.storeServerCpuMicrosPerRequest === null ? fixed(s.cpuRatioToBare, 3) : `${fixed(s.cpuRatioToBare, 3)} (${fixed(s.cpuRatioToBareWithStoreServer, 3)})`,
      s.zookeeper === null ? '' : fixed(s.zookeeper.writesPerAdmitted, 5),
      `${s.errors} / ${s.non2xx}`,
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function accuracyTable(summaries) {
  return markdownTable(
    ['variant', 'offered req/s', 'admitted', 'T (first→last admission)', 'own bound', 'admitted / bound', 'admitted / (rate × T)', 'mid-run admitted/s', 'ZK writes / admitted'],
    summaries.map((s) => [
      s.label,
      `${int(s.offeredPerSecond)} (target ${int(s.offeredTarget)})${s.underOfferedRounds > 0 ? ' UNDER-OFFERED' : ''}`,
      int(s.admitted),
      `${fixed(s.admittedSeconds, 2)} s`,
      `${int(s.bound)} = ${s.formula.split(' = ')[0]}`,
      pct(s.ofBound),
      pct(s.ofRateTimesT),
      `${int(s.steadyPerSecond)} (rate ${int(s.rate)})`,
      s.zookeeper === null ? '' : fixed(s.zookeeper.writesPerAdmitted, 4),
    ]),
    ['l', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r'],
  );
}

/** ZooKeeper writes per admitted request: steady state (limit far above the load) and overload (accuracy run). */
export function writesTable(throughput, accuracy) {
  const rows = [];
  const steady = throughput?.find((s) => s.name === 'flowgate')?.zookeeper;
  if (steady) rows.push(['steady state (limit 1e9/s, far above the load)', int(steady.admitted), int(steady.writes), int(steady.conflicts), fixed(steady.writesPerAdmitted, 5), '<= 0.01']);
  const long = throughput?.find((s) => s.name === 'flowgate-lease-2s')?.zookeeper;
  if (long) rows.push(["steady state, maxLeaseWindow '2s'", int(long.admitted), int(long.writes), int(long.conflicts), fixed(long.writesPerAdmitted, 5), '']);
  const overload = accuracy?.find((s) => s.name === 'flowgate')?.zookeeper;
  if (overload) rows.push(['overload (the accuracy run: limit below the load)', int(overload.admitted), int(overload.writes), int(overload.conflicts), fixed(overload.writesPerAdmitted, 5), '']);
  return markdownTable(['flowgate + ZooKeeperStore, 3 processes', 'admitted', 'ZK writes', 'of which lost CAS races', 'writes / admitted', 'goal'], rows, ['l', 'r', 'r', 'r', 'r', 'l']);
}

export function queueTable(q, config) {
  return markdownTable(
    ['measurement (same ensemble, alternating)', 'rate (median)', 'per round', 'note'],
    [
      [`raw ZooKeeper: persistent sequential create + delete, ${config.rawInFlight} in flight, 1 process`, `${int(q.rawPairsPerSecond)} pairs/s`, q.rawPerRound.map(int).join(', '), `${int(2 * q.rawPairsPerSecond)} writes/s`],
      [`DistributedQueue: 1 producer (${config.producerInFlight} in flight) → ${config.consumers} consumer processes`, `${int(q.itemsPerSecond)} items/s`, q.itemsPerRound.map(int).join(', '), `${fixed(q.ratioToRaw, 2)} × raw pairs/s; enqueue alone ${int(q.enqueuePerSecond)}/s`],
      [
        'DistributedQueue consumers: items per consumer; claims',
        '',
        q.perConsumer.map((c) => c.join('/')).join(', '),
        `${int(q.claims.creates)} claim attempts (a read, then a multi) for ${int(q.claims.items)} items: ${int(q.claims.itemAlreadyGone)} found the item already gone, ${int(q.claims.lostRaces)} lost to another consumer`,
      ],
      ...(q.idlePickupMs.length > 0 ? [['DistributedQueue: enqueue → handled, consumers idle before', `${q.idlePickupMs.map(int).join(', ')} ms`, '', 'single items, queue empty and quiet > 1.2 s before each']] : []),
    ],
    ['l', 'r', 'r', 'l'],
  );
}

export function overflowTable(overflow) {
  const row = (label, s) => [
    label,
    int(s.requests),
    JSON.stringify(s.statuses),
    int(s.waited),
    `${int(s.maxWaitedMs)} ms`,
    `${int(s.reserve.calls)} (${fixed(s.reserve.meanBatch, 1)})`,
    `${fixed(s.reserve.ms.p50, 1)} / ${fixed(s.reserve.ms.p99, 1)} ms`,
    int(s.writes),
    int(s.conflicts),
    fixed(s.writesPerWaited, 4),
    s.floor === undefined ? '-' : `${int(s.floor.writes)} = ${fixed(s.floor.perWaited, 4)}`,
  ];
  const g = overflow.groupedOrder;
  return markdownTable(
    ['scenario (3 processes, 50/s, burst 5, maxWait 15 s)', 'requests', 'statuses', 'waited', 'max wait', 'reserve calls (mean batch)', 'reserve call p50 / p99', 'ZK writes', 'lost CAS races', 'writes / waited', 'floor: fewest writes for these arrivals'],
    [
      row('burst: all at once, app i mod 3', overflow.burst),
      ...(g ? [row(`burst in known interleaving: groups of ${g.groupSize} every ${g.spacingMs} ms, group g to app g mod 3`, g)] : []),
      row(`spaced ${overflow.order.spacingMs} ms, app i mod 3`, overflow.order),
      ...(overflow.wideOrder ? [row(`spaced ${overflow.wideOrder.spacingMs} ms, queue.batchWindow ${overflow.wideOrder.batchWindowMs} ms`, overflow.wideOrder)] : []),
    ],
    ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function orderTable(order) {
  const row = (label, r) => [
    label,
    int(r.requests),
    int(r.pairs),
    int(r.inversions),
    int(r.involved),
    `${int(r.maxOvertakeMs)} ms`,
    `${int(r.maxArrivalGapMs)} ms`,
    r.beyondWindow ? `${int(r.beyondWindow.inversions)} of ${int(r.beyondWindow.pairs)}` : '-',
  ];
  return markdownTable(
    ['requests (arrival and admission: Date.now() in the apps)', 'requests', 'ordered pairs', 'inversions', 'requests involved', 'max overtake', 'max arrival gap of an inverted pair', `inversions of pairs > ${order.inversions.all.beyondWindow?.windowMs ?? 10} ms apart`],
    [
      row(`all served (batch window ${order.batchWindowMs ?? 5} ms)`, order.inversions.all),
      row(`only those that waited (batch window ${order.batchWindowMs ?? 5} ms)`, order.inversions.amongWaited),
      ...(order.grouped ? [row(`burst, groups of ${order.grouped.groupSize}: all served`, order.grouped.inversions.all), row(`burst, groups of ${order.grouped.groupSize}: only those that waited`, order.grouped.inversions.amongWaited)] : []),
      ...(order.wide ? [row(`all served (batch window ${order.wide.batchWindowMs} ms)`, order.wide.inversions.all), row(`only those that waited (batch window ${order.wide.batchWindowMs} ms)`, order.wide.inversions.amongWaited)] : []),
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

export function goalList(goals) {
  return goals.map((g) => `- ${g.passed === null ? 'n/a' : g.passed ? 'PASS' : 'MISS'}: ${g.goal} (${g.detail})`).join('\n');
}
