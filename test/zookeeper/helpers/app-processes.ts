// Child processes running helpers/app-process.cjs (a flowgate Express app on the built package).

import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { REPO } from './cluster.js';
import { spawnReadyProcess } from '../../helpers/ready-process.js';
import { ensureBuilt } from '../../helpers/ensure-built.js';
import { waitFor } from '../../helpers/wait.js';

const APP = path.join(__dirname, 'app-process.cjs');
const SKEW = path.join(__dirname, 'skew-clock.cjs');

export { ensureBuilt };

/** The store and limiter options of one app (see app-process.cjs). */
export interface AppConfig {
  store: Record<string, unknown> & { connect: string; root: string };
  limiter: { rate: number; interval?: string | number; burst?: number; strict?: boolean; name?: string; queue?: { maxSize?: number; maxWait?: string | number } };
  /** Wall-clock skew of the process in ms (a `--require` preload patches Date). */
  skewMs?: number;
}

export interface Episode {
  readonly start: number;
  readonly end: number;
  readonly open: boolean;
  readonly members: number;
}

export interface AppStats {
  readonly writes: number;
  readonly conflicts: number;
  readonly members: number;
  readonly available: boolean;
  readonly pid: number;
  readonly now: number;
  readonly wallClock: number;
  readonly counts: { admitted: number; limited: number; unavailable: number; other: number };
  readonly events: Array<{ event: string; at: number; [k: string]: unknown }>;
  readonly episodes: Episode[];
  /** Takes the store left to `onUnavailable`, by limiter name (ZooKeeperStoreStats.fallbackDecisions). */
  readonly fallbackDecisions: Record<string, number>;
}

/** What GET /burst answers: n concurrent limiter.take(key) in one app, counted. */
export interface BurstReport {
  readonly admitted: number;
  readonly rejected: Record<string, number>;
  readonly errors: string[];
  readonly ms: number;
}

export interface AppProcess {
  readonly pid: number;
  readonly port: number;
  readonly child: ChildProcess;
  /** stderr so far, for failure messages. */
  stderr(): string;
  stats(): Promise<AppStats>;
  getJson<T>(pathAndQuery: string, timeoutMs?: number): Promise<T>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** Starts an app process and waits until it listens (not until ZooKeeper is ready: see {@link waitUntilShared}). */
export async function spawnApp(config: AppConfig): Promise<AppProcess> {
  const args = config.skewMs === undefined ? [APP] : ['--require', SKEW, APP];
  const env: NodeJS.ProcessEnv = { ...process.env, FLOWGATE_TEST_APP: JSON.stringify({ store: config.store, limiter: config.limiter }), FLOWGATE_TEST_SKEW_MS: String(config.skewMs ?? 0) };
  const { child, port, stderr, exited } = await spawnReadyProcess(args, env, REPO);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const app: AppProcess = {
    pid: child.pid as number,
    port,
    child,
    stderr,
    getJson: <T>(pathAndQuery: string, timeoutMs = 10_000) => getJson<T>(agent, port, pathAndQuery, timeoutMs),
    stats: () => getJson<AppStats>(agent, port, '/stats', 5_000),
    async stop() {
      agent.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return app;
}

/** Waits until every app uses ZooKeeper (available) and sees `members` live members. */
export async function waitUntilShared(apps: AppProcess[], members: number, timeoutMs = 20_000): Promise<number> {
  return waitFor(async () => {
    const stats = await Promise.all(apps.map((a) => a.stats()));
    return stats.every((s) => s.available && s.members === members);
  }, timeoutMs, `${apps.length} apps available with ${members} members`, 100);
}

function getJson<T>(agent: http.Agent, port: number, pathAndQuery: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathAndQuery, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`GET ${pathAndQuery}: ${res.statusCode} ${body}`);
          resolve(JSON.parse(body) as T);
        } catch (error) {
          reject(error);
        }
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${pathAndQuery} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
