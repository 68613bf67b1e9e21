// Load-generator child of the cluster bench: autocannon over the apps' URLs (connections spread round-robin), on command over IPC.
import autocannon from 'autocannon';
import { announce, serveCommands } from './child-ipc.mjs';

function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/**
 * `run { urls, connections, pipelining, durationSeconds, overallRate? }`: loads the URLs (loopback
 * only; autocannon gives connection i the URL i mod urls.length) and resolves with a summary.
 */
async function runLoad({ urls, connections, pipelining = 1, durationSeconds, overallRate }) {
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && u.startsWith('http://127.0.0.1:'))) {
    throw new Error('load-worker: urls must be loopback http URLs');
  }
  const cpuBefore = process.cpuUsage();
  // sampleInt 100 ms: autocannon acts on the end of `duration` only at its next sample tick (1 s by
  // default), so a 10.5 s run would last 11 s; requests.total and duration do not depend on it.
  const result = await cannon({ url: urls, connections, pipelining, duration: durationSeconds, sampleInt: 100, ...(overallRate && { overallRate }) });
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = result.duration;
  return {
    requests: result.requests.total,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    requestsPerSecond: result.requests.total / seconds,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    loaderCpu: (cpu.user + cpu.system) / 1e6 / seconds,
    start: result.start,
    finish: result.finish,
  };
}

serveCommands({ run: runLoad });
announce({});
