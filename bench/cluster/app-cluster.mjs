// A group of app processes of one variant: start them in parallel, read their stats, stop them by PID.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinRunning } from '../processes.mjs';
import { forkChild, stopChild } from './children.mjs';

const appScript = join(dirname(fileURLToPath(import.meta.url)), 'app-server.mjs');

/**
 * Starts `count` app-server.mjs processes with `config` (see limiters.mjs) and resolves once each
 * listens on its loopback port (and its limiter's store is connected). `env` goes to every child
 * (BENCH_FLOWGATE_SNAPSHOT: the package under test). With `cpu`, every app is moved to that CPU once
 * it listens (see BENCH_CLUSTER_SPLIT). On a failed start, the started ones are stopped.
 */
export async function startApps(count, config, env = {}, { cpu } = {}) {
  const handles = Array.from({ length: count }, (_, i) =>
    forkChild(appScript, {
      env: { ...env, NODE_ENV: 'production', FLOWGATE_BENCH_APP: JSON.stringify(config) },
      readyTimeoutMs: 30_000,
      label: `app ${i + 1} (${config.variant})`,
    }),
  );
  let hellos;
  try {
    hellos = await Promise.all(handles.map((h) => h.hello));
    if (cpu !== undefined) pinRunning(handles.map((h) => h.pid), cpu);
  } catch (error) {
    await Promise.all(handles.map((h) => stopChild(h.child)));
    throw error;
  }
  const ports = hellos.map((h) => h.port);
  return {
    ports,
    pids: handles.map((h) => h.pid),
    urls: (path = '/') => ports.map((port) => `http://127.0.0.1:${port}${path}`),
    /** Each app's counters and its limiter's stats (flowgate: ZooKeeper writes). */
    stats: () => Promise.all(handles.map((h) => h.call('stats', {}, 10_000))),
    /** Every admission's wall time per app (apps started with `timeline: true`). */
    admissions: () => Promise.all(handles.map((h) => h.call('admissions', {}, 10_000))),
    stop: () => Promise.all(handles.map((h) => stopChild(h.child))),
  };
}

/** Sums a numeric field over the apps' stats, the limiter's when `inLimiter`. */
export function total(stats, field, inLimiter = false) {
  return stats.reduce((sum, s) => sum + ((inLimiter ? s.limiter?.[field] : s[field]) ?? 0), 0);
}
