// The `flowgate` command: builds the commander program, runs one command, and turns its outcome into an exit code.

import { Command, CommanderError } from 'commander';
import { ExitCode, toCliError } from './cli-errors.js';
import { registerDeadLetters } from './dead-letters.js';
import { registerPolicy } from './policy.js';
import { registerReset } from './reset.js';
import { registerStatus } from './status.js';

/** The commander program of `flowgate` (commands: status, reset, policy get|set|rm|list, dead-letters list|requeue|rm). */
export function createProgram(version: string): Command {
  const program = new Command('flowgate')
    .description('Inspect and administer flowgate rate limits shared through ZooKeeper.')
    .version(version, '-V, --version')
    // Errors and --help come back to main() as CommanderErrors instead of exiting, so that the
    // exit code is ours: 2 for every usage error (commander's default is 1).
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 other failure, 2 usage, 3 cannot reach ZooKeeper, 4 not found, 5 no permission.\nDocumentation: docs/cli.md in the flowgate package.');
  // Subcommands made with .command() inherit exitOverride and the help-after-error setting.
  registerStatus(program);
  registerReset(program);
  registerPolicy(program);
  registerDeadLetters(program);
  return program;
}

/** Runs the command line `argv` (as `process.argv`: node, script, args...); resolves with the exit code. */
export async function main(argv: readonly string[], version = '0.0.0'): Promise<number> {
  try {
    await createProgram(version).parseAsync([...argv]);
    return ExitCode.OK;
  } catch (error) {
    // Commander has already printed its message (or the help).
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    const failure = toCliError(error);
    process.stderr.write(`flowgate: ${failure.message}\n`);
    return failure.exitCode;
  }
}

/** Runs `main` and exits with its code once stdout is flushed, even if a socket or timer lingers. */
export function runMain(argv: readonly string[], version?: string): void {
  void main(argv, version).then((code) => {
    process.exitCode = code;
    process.stdout.write('', () => setTimeout(() => process.exit(code), 100).unref());
  });
}
