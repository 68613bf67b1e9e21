// The run's own redis-server (Debian's package) on 127.0.0.1, for the variants that need Redis; stopped by PID.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCommand, stop } from './processes.mjs';

/** Whether `redis-server` is installed (Debian: `apt-get install redis-server`). */
export function redisInstalled() {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts redis-server on 127.0.0.1:`port` without persistence, pinned to `cpu` when given, and
 * resolves with `{ pid, port, version, stop }` once it accepts connections. `stop()` ends it by its
 * PID and removes its working directory.
 */
export async function startRedis(port, cpu) {
  const dir = mkdtempSync(join(tmpdir(), 'flowgate-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  const server = startCommand('redis-server', args, { readyLine: /Ready to accept connections/, timeoutMs: 15_000, cpu });
  const remove = async () => {
    await stop(server.child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await server.ready;
  } catch (error) {
    await remove();
    throw error;
  }
  server.child.stdout.resume();
  server.child.stderr.resume();
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1];
  return { pid: server.child.pid, port, version, stop: remove };
}
