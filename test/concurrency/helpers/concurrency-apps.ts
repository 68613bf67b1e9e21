// Child processes running helpers/concurrency-app.cjs (an Express app with a cluster-wide concurrency limit, on the built package).

import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { REPO } from '../../zookeeper/helpers/cluster.js';
import { spawnReadyProcess } from '../../helpers/ready-process.js';

const APP = path.join(__dirname, 'concurrency-app.cjs');

/** The options of one app (see concurrency-app.cjs). */
export interface ConcurrencyAppConfig {
  store: Record<string, unknown> & { connect: string; root: string };
  concurrency: number;
  name?: string;
}

/** What GET /stats answers. */
export interface ConcurrencyAppStats {
  readonly available: boolean;
  readonly members: number;
  readonly inFlight: number;
  readonly holding: string[];
  readonly started: number;
  readonly finished: number;
}

/** An answer, read whole. */
export interface Reply {
  readonly status: number;
  readonly body: string;
}

export interface ConcurrencyAppProcess {
  readonly pid: number;
  readonly port: number;
  readonly child: ChildProcess;
  stderr(): string;
  /** GET on a keep-alive connection of this app's own pool. */
  get(pathAndQuery: string, timeoutMs?: number): Promise<Reply>;
  stats(): Promise<ConcurrencyAppStats>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
  /** SIGKILL at once; resolves when it has exited. */
  kill(): Promise<void>;
}

/** Starts an app process and waits until it listens (not until ZooKeeper is ready). */
export async function spawnConcurrencyApp(config: ConcurrencyAppConfig): Promise<ConcurrencyAppProcess> {
  const { child, port, stderr, exited } = await spawnReadyProcess([APP], { ...process.env, FLOWGATE_CONCURRENCY_APP: JSON.stringify(config) }, REPO);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const get = (pathAndQuery: string, timeoutMs = 10_000): Promise<Reply> => request(agent, port, pathAndQuery, timeoutMs);
  return {
    pid: child.pid as number,
    port,
    child,
    stderr,
    get,
    stats: async () => JSON.parse((await get('/stats', 5000)).body) as ConcurrencyAppStats,
    async stop() {
      agent.destroy();
      if (gone()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
      agent.destroy();
    },
  };
}

function request(agent: http.Agent, port: number, pathAndQuery: string, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathAndQuery, agent, headers: { 'x-key': 'shared' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${pathAndQuery} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
