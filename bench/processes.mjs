// Child processes of the benchmark: start a node script, read its one-line JSON report, stop it by PID.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Children still running, so a failing or interrupted run can stop each of them by its PID. */
const live = new Set();

/**
 * Starts `node [nodeArgs] script [args]` and returns `{ child, report }`: `report` resolves with the
 * first stdout line parsed as JSON, and rejects when the child exits first or `timeoutMs` passes.
 * The child's stderr is passed through.
 */
export function startNode(script, { args = [], nodeArgs = [], env = {}, timeoutMs }) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
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
