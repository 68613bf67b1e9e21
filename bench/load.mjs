// Load-generator child: warms a server up, then measures it with wrk (or autocannon) and prints one JSON result line.
import autocannon from 'autocannon';
import { machineBusySeconds, processCpuSeconds } from './cpu-usage.mjs';
import { runWrk } from './wrk.mjs';

/** Runs autocannon once and resolves with its result (rejects on a run error). */
function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

// helperPids: processes serving the server (its Redis), whose CPU is reported apart from "other".
const { url, serverPid, helperPids = [], warmupSeconds, durationSeconds, connections, pipelining, loader: loaderName = 'autocannon' } = JSON.parse(process.argv[2] ?? '{}');
if (typeof url !== 'string' || !url.startsWith('http://127.0.0.1:')) {
  console.error('load.mjs: expects a JSON argument with a loopback url, e.g. {"url":"http://127.0.0.1:3000/", ...}');
  process.exit(2);
}
const base = { url, connections, pipelining };

/**
 * One load run of `seconds` with the chosen generator, as `{ result, loaderCpuSeconds }`: wrk runs
 * as a child (its CPU is read when it has exited; it has no pipelining), autocannon in this process.
 */
async function load(seconds) {
  if (loaderName === 'wrk') {
    const result = await runWrk({ urls: [url], connections, durationSeconds: seconds });
    return { result: { ...result, duration: result.seconds, requests: { total: result.requests }, latency: result.latencyMs }, loaderCpuSeconds: result.loaderCpu * result.seconds };
  }
  const cpuBefore = process.cpuUsage();
  const result = await cannon({ ...base, duration: seconds });
  return { result, loaderCpuSeconds: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpuBefore)) };
}

if (warmupSeconds > 0) await load(warmupSeconds);

const serverBefore = processCpuSeconds(serverPid);
const helpersCpu = () => helperPids.reduce((total, pid) => total + processCpuSeconds(pid), 0);
const helpersBefore = helpersCpu();
const machineBefore = machineBusySeconds();
const { result, loaderCpuSeconds: loader } = await load(durationSeconds);
const machine = machineBusySeconds() - machineBefore;
const server = processCpuSeconds(serverPid) - serverBefore;
const helpers = helpersCpu() - helpersBefore;

const seconds = result.duration; // measured wall time of the run, in seconds
const summary = {
  requests: result.requests.total,
  seconds,
  requestsPerSecond: result.requests.total / seconds,
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
  // CPU used, in cores (1 = one core busy for the whole run). A server below ~0.9 was starved or
  // waiting; a loader above ~0.9 may be the bottleneck; "other" is everything else on the machine
  // (kernel networking included), and high values mean other work disturbed the measurement;
  // "helpers" (only with helperPids) is what the server's own Redis used.
  cpu: {
    server: server / seconds,
    loader: loader / seconds,
    other: Number.isNaN(machine - server - helpers) ? undefined : Math.max(0, machine - server - loader - helpers) / seconds,
    ...(helperPids.length > 0 && { helpers: helpers / seconds }),
  },
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
