// Runs the built `flowgate` CLI (bin/flowgate.cjs) as a real child process and collects its output and exit code.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../../zookeeper/helpers/cluster.js';

export const BIN = path.join(REPO, 'bin', 'flowgate.cjs');

/** How a CLI run ended. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit. */
  readonly ms: number;
}

/** A CLI process still running (for --watch). */
export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  readonly exited: Promise<CliResult>;
}

/** Fails clearly when the package has not been built (scripts/test.sh builds it; plain `npx jest` needs `npm run build`). */
export function requireBuild(): void {
  const main = path.join(REPO, 'dist', 'cjs', 'src', 'cli', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` before the CLI tests`);
}

/** Starts `node bin/flowgate.cjs ...args`, without the CLI's environment variables of the test runner; killed after `timeoutMs`. */
export function startCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000): RunningCli {
  const clean = { ...process.env };
  delete clean.FLOWGATE_ZK;
  delete clean.FLOWGATE_AUTH;
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
  return { child, stdout: () => stdout, exited };
}

/** Runs the CLI to its end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
  return startCli(args, env, timeoutMs).exited;
}

/** A readable summary of a run, for assertion messages. */
export function describeRun(result: CliResult): string {
  return `exit ${result.code} (${result.signal ?? 'no signal'}) after ${Math.round(result.ms)} ms\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}
