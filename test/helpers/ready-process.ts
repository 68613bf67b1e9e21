// Starts a Node app script as an OS child process and waits for its `{"ready":true,"port":N}` line on stdout.

import { spawn, type ChildProcess } from 'node:child_process';

/** A started child that announced its port. */
export interface ReadyProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** The last 20 kB of its stderr, for failure messages. */
  stderr(): string;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
}

/**
 * Runs `node <args>` in `cwd` with `env` (NODE_OPTIONS removed) and resolves once it prints a line
 * starting with `{"ready"` holding its `port`; kills it (by its PID) and rejects, with its stderr,
 * when it exits first or is not ready within `readyTimeoutMs`.
 */
export async function spawnReadyProcess(args: string[], env: NodeJS.ProcessEnv, cwd: string, readyTimeoutMs = 20_000): Promise<ReadyProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...env };
  delete childEnv.NODE_OPTIONS;
  const child = spawn(process.execPath, args, { cwd, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`app process not listening within ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
    function fail(error: Error): void {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}\n--- stderr\n${stderr}`));
    }
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready"'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code, signal) => fail(new Error(`app process exited early (${code ?? signal})`)));
  });
  return { child, port, stderr: () => stderr, exited };
}
