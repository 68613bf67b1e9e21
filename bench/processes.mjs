// Child processes of the benchmark: start a node script, read its one-line JSON report, stop it by PID.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Whether `taskset` can pin a child to a CPU here (Linux with util-linux). */
export const canPin = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;

/** Children still running, so a failing or interrupted run can stop each of them by its PID. */
const live = new Set();

/**
 * Starts `node [nodeArgs] script [args]` and returns `{ child, report, exited }`: `report` resolves
 * with the first stdout line parsed as JSON, and rejects when the child exits first or `timeoutMs`
 * passes. The child's stderr is passed through. With `cpu` (and {@link canPin}), the child runs
 * pinned to that CPU; `taskset` execs node, so `child.pid` is node's PID.
 */
export function startNode(script, { args = [], nodeArgs = [], env = {}, timeoutMs, cpu }) {
  const command = [process.execPath, ...nodeArgs, script, ...args];
  const pinned = cpu !== undefined && canPin ? ['taskset', '-c', String(cpu), ...command] : command;
  const child = spawn(pinned[0], pinned.slice(1), {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => live.delete(child));
  const report = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script}: no report within ${timeoutMs} ms`)), timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`${script}: report is not JSON: ${line}`));
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (code ${code}, signal ${signal}) before reporting`));
    });
  });
  return { child, report, exited };
}

/**
 * Starts `command args` (not node: a server such as redis-server) and returns `{ child, ready,
 * exited }`: `ready` resolves once a stdout line matches `readyLine`, and rejects when the child
 * exits first or `timeoutMs` passes. Pinned to `cpu` like {@link startNode}; stopped by
 * {@link stop} or {@link stopAll} like the node children.
 */
export function startCommand(command, args, { readyLine, timeoutMs, cpu }) {
  const pinned = cpu !== undefined && canPin ? ['taskset', '-c', String(cpu), command, ...args] : [command, ...args];
  const child = spawn(pinned[0], pinned.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => live.delete(child));
  const output = [];
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command}: not ready within ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (output.length < 50) output.push(line);
      if (readyLine.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (chunk) => output.length < 50 && output.push(String(chunk).trimEnd()));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (code ${code}, signal ${signal}) before it was ready:\n${output.join('\n')}`));
    });
  });
  return { child, ready, exited };
}

/** Stops `child` by its PID (SIGTERM, then SIGKILL after `graceMs`) and waits until it has exited. */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every child this process started that is still running. */
export async function stopAll() {
  await Promise.all([...live].map((child) => stop(child)));
}

/**
 * Moves running processes, every thread of each (`taskset -a -p`), to one CPU; threads and
 * children they start later inherit it. Throws when taskset fails (a PID that is gone).
 */
export function pinRunning(pids, cpu) {
  for (const pid of pids) {
    const result = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`taskset -a -p -c ${cpu} ${pid} failed: ${result.stderr?.trim()}`);
  }
}
