// Runs Debian's wrk (a load generator in C) against loopback URLs and summarises it like autocannon: requests, latency, errors, CPU.
import { spawn, spawnSync } from 'node:child_process';
import { exitedChildrenCpuSeconds } from './cpu-usage.mjs';

/** Whether `wrk` is installed here (`apt-get install wrk`). */
export const hasWrk = spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;

/**
 * The load generator of a run: `BENCH_LOADER=wrk|autocannon`, else wrk when installed. wrk parses
 * responses in C, so it needs a fraction of autocannon's CPU per request and leaves the server as
 * the bottleneck even for bare Koa; autocannon (in Node) is the fallback.
 */
export function chooseLoader(asked = process.env.BENCH_LOADER) {
  if (asked === undefined || asked === '') return hasWrk ? 'wrk' : 'autocannon';
  if (asked !== 'wrk' && asked !== 'autocannon') throw new Error(`BENCH_LOADER=${asked}: expects wrk or autocannon`);
  if (asked === 'wrk' && !hasWrk) throw new Error('BENCH_LOADER=wrk: wrk is not installed (apt-get install wrk)');
  return asked;
}

/** A line for the run's log when the run falls back to autocannon for want of wrk, else undefined. */
export function loaderNote(loader) {
  if (loader !== 'autocannon' || hasWrk) return undefined;
  return 'bench: wrk is not installed (apt-get install wrk): loading with autocannon, whose own CPU per response (at bare Koa\'s rate most of a core) weighs on the figures';
}

/** A wrk duration or latency ("812.00us", "1.50ms", "2.01s", "1.00m") in milliseconds. */
export function wrkMillis(text) {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (match === null) throw new Error(`wrk: cannot read the time "${text}"`);
  const value = Number(match[1]);
  if (match[2] === 'us') return value / 1000;
  return value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2]];
}

/** Reads wrk's report (run with `--latency`) into numbers; throws when a line it needs is missing. */
export function parseWrk(output) {
  const total = /(\d+) requests in ([\d.]+\w+),/.exec(output);
  if (total === null) throw new Error(`wrk: no "N requests in T" line in:\n${output}`);
  const percentile = (p) => {
    const line = new RegExp(`^\\s*${p}%\\s+([\\d.]+\\w+)`, 'm').exec(output);
    return line === null ? undefined : wrkMillis(line[1]);
  };
  const latencyLine = /^\s*Latency\s+\S+\s+\S+\s+(\S+)/m.exec(output);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(total[1]),
    seconds: wrkMillis(total[2]) / 1000,
    latencyMs: { p50: percentile(50), p99: percentile(99), max: latencyLine === null ? undefined : wrkMillis(latencyLine[1]) },
    errors: sockets === null ? 0 : Number(sockets[1]) + Number(sockets[2]) + Number(sockets[3]),
    timeouts: sockets === null ? 0 : Number(sockets[4]),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
  };
}

/** Runs one wrk process (one thread) and resolves with its parsed report; rejects when it fails. */
function wrkOnce(url, connections, durationSeconds) {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`wrk: loopback URLs only, got ${url}`);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${durationSeconds}s`, '--latency', '--timeout', '10s', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}:\n${output}`));
      try {
        resolve(parseWrk(output));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * Loads `urls` at once, one wrk process per URL with an equal share of `connections`, for
 * `durationSeconds`, and resolves with the sum: requests, requests per second over the longest run,
 * latency (the worst URL's p50, p99 and max), errors, timeouts, non-2xx, and `loaderCpu`, the wrk
 * processes' CPU in cores.
 */
export async function runWrk({ urls, connections, durationSeconds }) {
  const list = Array.isArray(urls) ? urls : [urls];
  const share = Math.max(1, Math.floor(connections / list.length));
  const cpuBefore = exitedChildrenCpuSeconds();
  const started = Date.now();
  const reports = await Promise.all(list.map((url) => wrkOnce(url, share, durationSeconds)));
  const finished = Date.now();
  const cpuAfter = exitedChildrenCpuSeconds();
  const seconds = Math.max(...reports.map((r) => r.seconds));
  const requests = reports.reduce((sum, r) => sum + r.requests, 0);
  const worst = (field) => Math.max(...reports.map((r) => r.latencyMs[field] ?? 0));
  return {
    requests,
    seconds,
    requestsPerSecond: requests / seconds,
    latencyMs: { p50: worst('p50'), p99: worst('p99'), max: worst('max') },
    errors: reports.reduce((sum, r) => sum + r.errors, 0),
    timeouts: reports.reduce((sum, r) => sum + r.timeouts, 0),
    non2xx: reports.reduce((sum, r) => sum + r.non2xx, 0),
    loaderCpu: Math.max(0, cpuAfter - cpuBefore) / seconds,
    start: started,
    finish: finished,
  };
}
