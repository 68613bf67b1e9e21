// Errors flowgate throws: a bad option at construction time, or a bad argument at call time.

/** Stable error codes, one per kind of mistake, so callers can branch on them. */
export type FlowgateErrorCode = 'ERR_FLOWGATE_CONFIG' | 'ERR_FLOWGATE_ARGUMENT' | 'ERR_FLOWGATE_CLOSED' | 'ERR_FLOWGATE_QUEUE_TIMEOUT' | 'ERR_FLOWGATE_ZK_UNAVAILABLE';

/** Base class of every error flowgate throws on purpose. */
export class FlowgateError extends Error {
  /** A stable code for the kind of error. */
  readonly code: FlowgateErrorCode;

  constructor(code: FlowgateErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Thrown at construction time when an option is missing, unknown or out of range. The message
 * names the option, the value given and what is allowed.
 */
export class FlowgateConfigError extends FlowgateError {
  /** The option's path, such as `rate` or `queue.maxWait`. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;

  constructor(option: string, value: unknown, allowed: string) {
    super('ERR_FLOWGATE_CONFIG', `flowgate: invalid option ${option}=${describe(value)}: ${allowed}`);
    this.option = option;
    this.value = value;
  }
}

/** Thrown when a call gets an argument it cannot use, such as a negative cost. */
export class FlowgateArgumentError extends FlowgateError {
  constructor(argument: string, value: unknown, allowed: string) {
    super('ERR_FLOWGATE_ARGUMENT', `flowgate: invalid ${argument}=${describe(value)}: ${allowed}`);
  }
}

/** Renders a value for an error message: strings quoted, objects as JSON, the rest as text. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return String(value);
  if (value !== null && typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}
