// Load-generator child: warms a server up, then measures it with autocannon and prints one JSON result line.
import autocannon from 'autocannon';

/** Runs autocannon once and resolves with its result (rejects on a run error). */
function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

const { url, warmupSeconds, durationSeconds, connections, pipelining } = JSON.parse(process.argv[2] ?? '{}');
if (typeof url !== 'string' || !url.startsWith('http://127.0.0.1:')) {
  console.error('load.mjs: expects a JSON argument with a loopback url, e.g. {"url":"http://127.0.0.1:3000/", ...}');
  process.exit(2);
}
const base = { url, connections, pipelining };

if (warmupSeconds > 0) await cannon({ ...base, duration: warmupSeconds });

const cpuBefore = process.cpuUsage();
const result = await cannon({ ...base, duration: durationSeconds });
const cpu = process.cpuUsage(cpuBefore);

const seconds = result.duration; // measured wall time of the run, in seconds
const summary = {
  requests: result.requests.total,
  seconds,
  requestsPerSecond: result.requests.total / seconds,
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
  // Above ~0.9 the load generator, not the server, may be the bottleneck.
  loaderCpuFraction: (cpu.user + cpu.system) / 1e6 / seconds,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
