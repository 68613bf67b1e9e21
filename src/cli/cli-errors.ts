// The CLI's exit codes, and the mapping of every failure to one of them with a message a person can act on.

import { FlowgateConfigError } from '../errors.js';
import { isUnavailable, ZkCode, zkCode } from '../stores/zookeeper/zookeeper-session.js';

/** Exit codes of the `flowgate` command, stable for scripts. */
export const ExitCode = {
  /** Done. */
  OK: 0,
  /** Anything not covered below (a bug, data flowgate did not write, ...). */
  FAILURE: 1,
  /** Bad command line: unknown command or option, missing argument, bad option value. */
  USAGE: 2,
  /** ZooKeeper could not be reached within `--timeout`, or stopped answering. */
  UNAVAILABLE: 3,
  /** The root (or flowgate's data under it), the limiter, the policy, the queue or the dead letters asked for do not exist. */
  NOT_FOUND: 4,
  /** ZooKeeper refused the operation (NoAuth): a credential is missing or wrong. */
  NO_AUTH: 5,
} as const;

/** One of {@link ExitCode}'s values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI reports as one line on stderr and ends with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** What the CLI was talking to, for messages that say where things failed. */
export interface FailureContext {
  readonly connect?: string;
  readonly root?: string;
  /** Whether a credential was given with `--auth`. */
  readonly withAuth?: boolean;
}

/** Maps any error thrown while running a command to a {@link CliError} (exit code and message). */
export function toCliError(error: unknown, context: FailureContext = {}): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof FlowgateConfigError) return new CliError(ExitCode.USAGE, error.message.replace(/^flowgate: /, ''));
  const code = zkCode(error);
  const path = pathOf(error) ?? context.root ?? 'a znode';
  if (code === ZkCode.NO_AUTH) return noPermission(`for ${path}`, context.withAuth === true);
  if (isUnavailable(error)) {
    const where = context.connect === undefined ? 'ZooKeeper' : `ZooKeeper at ${context.connect}`;
    return new CliError(ExitCode.UNAVAILABLE, `cannot reach ${where}: ${messageOf(error).replace(/^flowgate: /, '')}`);
  }
  if (code === ZkCode.NO_NODE) return new CliError(ExitCode.NOT_FOUND, `not found: ${path} (removed meanwhile?)`);
  // The CLI prints its own "flowgate: " before every message.
  return new CliError(ExitCode.FAILURE, messageOf(error).replace(/^flowgate: /, ''));
}

/** The exit-5 error for a NoAuth refusal of `what` ("to delete /x"), with the advice that fits. */
export function noPermission(what: string, withAuth: boolean): CliError {
  const advice = withAuth
    ? 'the credential given with --auth (or FLOWGATE_AUTH) is not the one that protects it'
    : 'give the credential the apps use with --auth user:password (or FLOWGATE_AUTH)';
  return new CliError(ExitCode.NO_AUTH, `no permission ${what} (ZooKeeper NoAuth): ${advice}`);
}

/** Runs a write; a NoAuth refusal becomes {@link noPermission} naming `what` (node-zookeeper-client's errors name no path). */
export async function refusedAs<T>(what: string, withAuth: boolean, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (zkCode(error) === ZkCode.NO_AUTH) throw noPermission(what, withAuth);
    throw error;
  }
}

/** The znode path a node-zookeeper-client exception names, if any. */
function pathOf(error: unknown): string | undefined {
  const path = (error as { path?: unknown } | null)?.path;
  return typeof path === 'string' && path !== '' ? path : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
