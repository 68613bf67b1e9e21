// Markdown formatting of the benchmark's results: the throughput table, the goals, the memory report.

/** A markdown table; `align` holds 'l' or 'r' per column. */
export function markdownTable(headers, rows, align = headers.map(() => 'l')) {
  const cells = [headers, ...rows].map((row) => row.map(String));
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => (align[i] === 'r' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

const int = (n) => Math.round(n).toLocaleString('en-US');

/** Server CPU µs/req, its difference to the baseline's, and the CPU of the server's Redis when it has one. */
function cpuCell(s) {
  if (Number.isNaN(s.serverCpuMicrosPerRequest)) return '?';
  const above = s.serverCpuMicrosAboveBaseline === 0 ? '' : ` (${s.serverCpuMicrosAboveBaseline >= 0 ? '+' : ''}${s.serverCpuMicrosAboveBaseline.toFixed(1)})`;
  const helpers = s.helperCpuMicrosPerRequest === undefined ? '' : ` + Redis ${s.helperCpuMicrosPerRequest.toFixed(1)}`;
  return `${s.serverCpuMicrosPerRequest.toFixed(1)}${above}${helpers}`;
}

/**
 * The per-variant table: median requests/s, spread, ratio to the group's baseline (column
 * `vs <baselineName>`), p99, server CPU per request, errors / non-2xx.
 */
export function throughputTable(summaries, baselineName = 'bare') {
  const rows = summaries.map((s) => [
    s.label,
    int(s.requestsPerSecond.median),
    `${int(s.requestsPerSecond.min)}–${int(s.requestsPerSecond.max)}`,
    s.ratioToBaseline.toFixed(3),
    s.p99LatencyMs.toFixed(0),
    cpuCell(s),
    `${s.errors} / ${s.non2xx}`,
  ]);
  return markdownTable(
    ['variant', 'req/s (median)', 'req/s range', `vs ${baselineName}`, 'p99 ms', 'server CPU µs/req', 'errors / non-2xx'],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

/** The goals as a checklist. */
export function goalList(goals) {
  return goals.map((g) => `- ${g.passed ? 'PASS' : 'MISS'}: ${g.goal} (${g.detail})`).join('\n');
}

/** The memory-per-key report of memory-per-key.mjs. */
export function memoryTable(memory) {
  const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return markdownTable(
    ['step', 'store.size()', 'heap above baseline', 'note'],
    [
      ['after 1 take each for distinct keys', int(memory.filled.size), mib(memory.filled.heapDeltaBytes), `${memory.bytesPerKey.toFixed(0)} bytes per active key`],
      ['clock + full-refill time, then 1 take', int(memory.afterOneTake.size), '', `${int(memory.afterJump.size)} held until that take (no timers); it evicted ${memory.afterOneTake.evicted}`],
      [`then more takes until drained`, int(memory.drained.size), mib(memory.drained.heapDeltaBytes), `${int(memory.drained.takes)} more takes (${memory.drained.takesDescription})`],
    ],
    ['l', 'r', 'r', 'l'],
  );
}
