// Real OS child processes on the BUILT package (dist/cjs, through the package's own exports), driven
// over Node's IPC channel. Every child is stopped by its PID; a child exits by itself when the
// channel to the test process closes, so none outlives a crashed test run.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './rig.js';
import { BUILT, ensureBuilt } from '../../helpers/ensure-built.js';
import { waitFor } from '../../helpers/wait.js';

export { ensureBuilt };

interface Reply {
  readonly reply: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

export interface Child {
  readonly pid: number;
  readonly label: string;
  readonly process: ChildProcess;
  /** What the child announced when ready (e.g. its HTTP port). */
  readonly hello: Record<string, unknown>;
  /** Sends a command and resolves with its result (rejects on a child error, exit, or after `timeoutMs`). */
  call<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Unsolicited messages (`{ event, ... }`) from the child, in arrival order. */
  readonly events: Array<Record<string, unknown>>;
  onEvent(listener: (event: Record<string, unknown>) => void): void;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** SIGKILL by pid: a crash. Resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM by pid, SIGKILL after 5 s. Resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts `script` (a .cjs next to this file) with `config` in FLOWGATE_QUEUE_CHILD; waits for its hello. */
export async function spawnChild(script: string, label: string, config: Record<string, unknown>, readyTimeoutMs = 30_000): Promise<Child> {
  // dist/ may be in the middle of a rebuild by someone else's `npm run build`: give it time first.
  if (!fs.existsSync(BUILT)) await waitFor(() => fs.existsSync(BUILT), 60_000, 'dist/ to be rebuilt', 200).catch(() => ensureBuilt());
  const env: NodeJS.ProcessEnv = { ...process.env, FLOWGATE_QUEUE_CHILD: JSON.stringify(config) };
  delete env.NODE_OPTIONS;
  const proc = spawn(process.execPath, [path.join(__dirname, script)], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const pid = proc.pid as number;
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((info) => (exitInfo = info));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: ReturnType<typeof setTimeout> }>();
  const events: Array<Record<string, unknown>> = [];
  const listeners: Array<(event: Record<string, unknown>) => void> = [];
  let nextId = 1;
  let hello: Record<string, unknown> | undefined;
  let onHello: ((h: Record<string, unknown>) => void) | undefined;
  proc.on('message', (message: Reply & Record<string, unknown>) => {
    if (typeof message.reply === 'number') {
      const waiter = pending.get(message.reply);
      if (waiter === undefined) return;
      pending.delete(message.reply);
      clearTimeout(waiter.timer);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${label}: ${message.error}`));
    } else if (message.hello !== undefined) {
      hello = message;
      onHello?.(message);
    } else {
      events.push(message);
      for (const listener of listeners) listener(message);
    }
  });
  void exited.then((info) => {
    for (const [, waiter] of pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`${label} exited (${info.code ?? info.signal}) before replying\n--- stderr\n${stderr}`));
    }
    pending.clear();
  });
  proc.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`not ready within ${readyTimeoutMs} ms`), readyTimeoutMs);
    function fail(why: string): void {
      clearTimeout(timer);
      if (exitInfo === undefined) process.kill(pid, 'SIGKILL');
      reject(new Error(`${label} ${why}\n--- stderr\n${stderr}`));
    }
    if (hello !== undefined) {
      clearTimeout(timer);
      resolve();
      return;
    }
    onHello = () => {
      clearTimeout(timer);
      resolve();
    };
    void exited.then((info) => fail(`exited early (${info.code ?? info.signal})`));
  });

  const alive = (): boolean => exitInfo === undefined;
  const child: Child = {
    pid,
    label,
    process: proc,
    hello: hello as Record<string, unknown>,
    events,
    stderr: () => stderr,
    exited,
    alive,
    onEvent: (listener) => void listeners.push(listener),
    call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
      if (!alive()) return Promise.reject(new Error(`${label} is not running (${cmd}): exited ${exitInfo?.code ?? exitInfo?.signal}\n--- stderr\n${stderr}`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${label}: ${cmd} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        proc.send({ id, cmd, args }, (error) => {
          if (error) {
            clearTimeout(timer);
            pending.delete(id);
            reject(error);
          }
        });
      });
    },
    async kill() {
      if (alive()) process.kill(pid, 'SIGKILL');
      await exited;
    },
    async stop() {
      if (!alive()) return;
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        if (alive()) process.kill(pid, 'SIGKILL');
      }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return child;
}

/** Stops children by pid, in parallel, ignoring ones already gone. */
export async function stopAll(children: Array<Child | undefined>): Promise<void> {
  await Promise.all(children.filter((c): c is Child => c !== undefined).map((c) => c.stop().catch(() => undefined)));
}
