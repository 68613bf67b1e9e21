// Parent side of the cluster bench's child processes: fork with IPC, await the hello, call commands, stop by PID.
import { fork } from 'node:child_process';

/** Children still running, so a failing or interrupted run can stop each by its PID. */
const live = new Set();

/**
 * Forks `node script` with an IPC channel and returns a handle:
 * - `hello`: resolves with the child's first `{ hello }` message (it is ready), rejects when the
 *   child exits first or `readyTimeoutMs` passes;
 * - `call(cmd, args, timeoutMs)`: one request/reply over IPC (see child-ipc.mjs);
 * - `pid`, `child`, `exited`.
 * The child's stdout and stderr are passed through to this process's stderr.
 */
export function forkChild(script, { args = [], env = {}, readyTimeoutMs = 30_000, label = script } = {}) {
  const child = fork(script, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, ...env } });
  child.stdout.on('data', (chunk) => process.stderr.write(chunk));
  child.stderr.on('data', (chunk) => process.stderr.write(chunk));
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => live.delete(child));
  const pending = new Map();
  let nextId = 1;
  child.on('message', (message) => {
    if (message?.reply === undefined) return;
    const call = pending.get(message.reply);
    if (call === undefined) return;
    pending.delete(message.reply);
    clearTimeout(call.timer);
    if (message.ok) call.resolve(message.result);
    else call.reject(new Error(`${label}: ${message.error}`));
  });
  exited.then(({ code, signal }) => {
    for (const call of pending.values()) {
      clearTimeout(call.timer);
      call.reject(new Error(`${label} exited (code ${code}, signal ${signal}) before replying`));
    }
    pending.clear();
  });
  const hello = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    const onMessage = (message) => {
      if (message?.hello === undefined) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.hello);
    };
    child.on('message', onMessage);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (code ${code}, signal ${signal}) before it was ready`));
    });
  });
  hello.catch(() => undefined); // a caller that never awaits it must not crash the run

  function call(cmd, callArgs = {}, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${label}: not connected (exited?)`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${label}: no reply to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      child.send({ id, cmd, args: callArgs });
    });
  }

  return { child, pid: child.pid, hello, call, exited, label };
}

/** Stops `child` by its PID (SIGTERM, then SIGKILL after `graceMs`) and waits until it has exited. */
export async function stopChild(child, graceMs = 4000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every child this process forked that is still running. */
export async function stopAllChildren() {
  await Promise.all([...live].map((child) => stopChild(child)));
}
