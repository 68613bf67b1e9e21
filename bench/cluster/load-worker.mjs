// Load-generator child of the cluster bench: wrk (one process per app URL) or autocannon over the apps' URLs, on command over IPC.
import autocannon from 'autocannon';
import { runWrk } from '../wrk.mjs';
import { announce, serveCommands } from './child-ipc.mjs';

function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/**
 * `run { urls, connections, pipelining, durationSeconds, overallRate?, loader? }`: loads the URLs
 * (loopback only) with `loader` (the run's config: wrk, one process per URL with an equal share of
 * the connections) or autocannon (the default, and always for a paced `overallRate`: it gives
 * connection i the URL i mod urls.length), and resolves with a summary naming the generator.
 */
async function runLoad({ urls, connections, pipelining = 1, durationSeconds, overallRate, loader = 'autocannon' }) {
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && u.startsWith('http://127.0.0.1:'))) {
    throw new Error('load-worker: urls must be loopback http URLs');
  }
  if (loader === 'wrk' && overallRate === undefined) {
    const result = await runWrk({ urls, connections, durationSeconds });
    return { ...result, ok2xx: result.requests - result.non2xx, loader: 'wrk' };
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
    loader: 'autocannon',
  };
}

serveCommands({ run: runLoad });
announce({});
