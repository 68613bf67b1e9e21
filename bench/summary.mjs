// Turns per-round load results into per-variant medians, ratios against the baseline, and goal verdicts.

/** The median of a non-empty list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Above this many cores of CPU used outside the server and the load generator, a measurement counts as disturbed. */
export const DISTURBED_OTHER_CPU = 0.25;

/** Whether other work on the machine used enough CPU during the measurement to skew it. */
export function disturbed(result) {
  return (result.cpu.other ?? 0) > DISTURBED_OTHER_CPU;
}

/**
 * Summarizes `runs` (`{ variant, round, result }` items, `result` from load.mjs) per variant of
 * `variants`, with each variant's median throughput divided by the baseline's median.
 */
export function summarize(runs, variants, baseline) {
  const byVariant = new Map(variants.map((v) => [v.name, runs.filter((r) => r.variant === v.name).map((r) => r.result)]));
  const baseRps = median(byVariant.get(baseline).map((r) => r.requestsPerSecond));
  const baseCpu = median(byVariant.get(baseline).map(cpuMicrosPerRequest));
  return variants.map((v) => {
    const results = byVariant.get(v.name);
    const rps = results.map((r) => r.requestsPerSecond);
    return {
      name: v.name,
      label: v.label,
      rounds: results.length,
      requestsPerSecond: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps), perRound: rps },
      disturbedPerRound: results.map(disturbed),
      ratioToBaseline: median(rps) / baseRps,
      // The same ratio taken round by round (each against the baseline of its own round), then the median.
      pairedRatioToBaseline: median(results.map((r, i) => r.requestsPerSecond / byVariant.get(baseline)[i].requestsPerSecond)),
      // The same, over the rounds where neither this variant's nor the baseline's measurement was disturbed.
      quietRatioToBaseline: quietRatio(results, byVariant.get(baseline)),
      p99LatencyMs: median(results.map((r) => r.latencyMs.p99)),
      // Server CPU time per request: less sensitive to other load on the machine than requests/s.
      serverCpuMicrosPerRequest: median(results.map(cpuMicrosPerRequest)),
      serverCpuMicrosAboveBaseline: median(results.map(cpuMicrosPerRequest)) - baseCpu,
      // CPU of the server's helper processes (its Redis) per request; undefined without helpers.
      helperCpuMicrosPerRequest: results.every((r) => r.cpu.helpers !== undefined) ? median(results.map((r) => (r.cpu.helpers * 1e6) / r.requestsPerSecond)) : undefined,
      errors: sum(results.map((r) => r.errors)), // autocannon counts timeouts among errors too
      non2xx: sum(results.map((r) => r.non2xx)),
      cpu: {
        server: median(results.map((r) => r.cpu.server)),
        loader: median(results.map((r) => r.cpu.loader)),
        other: median(results.map((r) => r.cpu.other ?? 0)),
        ...(results.every((r) => r.cpu.helpers !== undefined) && { helpers: median(results.map((r) => r.cpu.helpers)) }),
      },
    };
  });
}

/** `{ ratio, rounds }`: the median paired ratio over rounds where neither side was disturbed (ratio null when none). */
function quietRatio(results, baseResults) {
  const ratios = results.flatMap((r, i) => (disturbed(r) || disturbed(baseResults[i]) ? [] : [r.requestsPerSecond / baseResults[i].requestsPerSecond]));
  return { ratio: ratios.length > 0 ? median(ratios) : null, rounds: ratios.length };
}

/** Server CPU microseconds per request in one measurement. */
function cpuMicrosPerRequest(result) {
  return (result.cpu.server * 1e6) / result.requestsPerSecond;
}

function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}

/** ", in undisturbed rounds: …" when some rounds were disturbed but not all. */
function quietDetail(summary) {
  const { ratio, rounds } = summary.quietRatioToBaseline;
  if (rounds === summary.rounds) return '';
  return rounds === 0 ? '; every round was disturbed' : `; ${ratio.toFixed(3)} in the ${rounds} round(s) where neither measurement was disturbed`;
}

/** "; references in this run: …" with the ratio of each reference variant measured (BENCH_FLOORS=1), the floors the goal stands beside. */
function floorDetail(summaries, group) {
  const floors = (group.variants ?? []).filter((v) => v.floor).flatMap((v) => summaries.filter((s) => s.name === v.name));
  if (floors.length === 0) return '';
  return `; references in this run: ${floors.map((s) => `${s.label.replace(/^reference: /, '')} ${s.ratioToBaseline.toFixed(3)}`).join(', ')}`;
}

/** The Express group's goal wording, the default of {@link checkGoals}. */
const EXPRESS_GOALS = { flowgate: 'flowgate', competitor: 'express-rate-limit', baselineName: 'bare' };

/**
 * The issue's goals for one framework group (`group` from variants.mjs: its `flowgate` and
 * `competitor` variant names, `baselineName`), each `{ goal, passed, detail }`.
 */
export function checkGoals(summaries, group = EXPRESS_GOALS) {
  const of = (name) => summaries.find((s) => s.name === name);
  const flowgate = of(group.flowgate);
  const rival = of(group.competitor);
  const failures = summaries.filter((s) => s.errors > 0 || s.non2xx > 0);
  return [
    {
      goal: `${flowgate.label} >= 0.95 × ${group.baselineName} requests/s`,
      passed: flowgate.ratioToBaseline >= 0.95,
      detail: `${flowgate.ratioToBaseline.toFixed(3)} × ${group.baselineName}` + quietDetail(flowgate) + floorDetail(summaries, group),
    },
    {
      goal: `${flowgate.label} ahead of ${rival.label}`,
      passed: flowgate.requestsPerSecond.median > rival.requestsPerSecond.median,
      detail: `${(flowgate.requestsPerSecond.median / rival.requestsPerSecond.median).toFixed(3)} × ${rival.label}`,
    },
    ...costGoals(summaries, group),
    {
      goal: 'no errors or non-2xx answers (sanity)',
      passed: failures.length === 0,
      detail: failures.length === 0 ? 'none' : failures.map((s) => `${s.name}: ${s.errors} errors, ${s.non2xx} non-2xx`).join('; '),
    },
  ];
}

/**
 * The goal lines of the group's variants that carry `costOf` (variants.mjs): the variant's
 * requests/s over its reference's, taken round by round (each against the reference of its own
 * round, which damps drift on a shared machine), then the median; at least `atLeast` passes. The
 * detail adds the same over the rounds where neither measurement was disturbed.
 */
function costGoals(summaries, group) {
  return (group.variants ?? []).flatMap((v) => {
    const variant = summaries.find((s) => s.name === v.name);
    const reference = summaries.find((s) => s.name === v.costOf?.variant);
    if (v.costOf === undefined || variant === undefined || reference === undefined) return [];
    const ratios = variant.requestsPerSecond.perRound.map((rps, i) => rps / reference.requestsPerSecond.perRound[i]);
    const ratio = median(ratios);
    const quiet = ratios.filter((_, i) => !variant.disturbedPerRound[i] && !reference.disturbedPerRound[i]);
    const quietDetail = quiet.length === ratios.length ? '' : quiet.length === 0 ? '; every round was disturbed' : `; ${median(quiet).toFixed(4)} in the ${quiet.length} round(s) where neither measurement was disturbed`;
    const cpu = variant.serverCpuMicrosPerRequest - reference.serverCpuMicrosPerRequest;
    return [
      {
        goal: `${v.costOf.goal}: ${variant.label} >= ${v.costOf.atLeast} × ${reference.label} requests/s, paired by round`,
        passed: ratio >= v.costOf.atLeast,
        detail: `${ratio.toFixed(4)} × ${reference.label}; rounds ${ratios.map((r) => r.toFixed(3)).join(', ')}${quietDetail}; server CPU ${cpu >= 0 ? '+' : ''}${cpu.toFixed(1)} µs/req`,
      },
    ];
  });
}
