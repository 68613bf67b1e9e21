// When a DistributedQueue item whose handler threw is due again: the `retryDelay` option, resolved.

import { parseDuration, type Duration } from '../../duration.js';
import { FlowgateArgumentError } from '../../errors.js';
import { itemTurn } from './queue-item-names.js';

/**
 * How long an item whose handler threw waits before it is delivered again: a fixed duration, or a
 * function of the delivery that failed (1 for the first) and what its handler threw, such as
 * `(attempt) => 1000 * 2 ** (attempt - 1)` for exponential backoff.
 */
export type RetryDelay = Duration | ((attempt: number, error: unknown) => Duration);

/**
 * Validates `retryDelay` (a duration is checked here, at construction: FlowgateConfigError naming
 * it) and returns the delay in ms of a failed delivery. A function's result is checked when it is
 * called: a bad one throws FlowgateArgumentError naming the option, the value and the attempt.
 */
export function retryDelayOf(value: RetryDelay | undefined): (attempt: number, error: unknown) => number {
  if (value === undefined) return () => 0;
  if (typeof value !== 'function') {
    const ms = parseDuration(value, 'retryDelay');
    return () => ms;
  }
  return (attempt, error) => {
    const given = value(attempt, error);
    try {
      return parseDuration(given, 'retryDelay');
    } catch {
      throw new FlowgateArgumentError('retryDelay', given, `was returned for attempt ${attempt}: must be a number of milliseconds >= 0 or a string such as '500ms', '1s', '1m'`);
    }
  };
}

/**
 * Where an item put back at server time `serverNow` after a failed delivery goes: in line as if
 * enqueued once its delay has passed, with its priority; and, when there is a delay, the server
 * time it is due at (not taken before).
 */
export function retryPlace(serverNow: number, priority: number, delayMs: number): { turn: number; due?: number } {
  const at = serverNow + delayMs;
  return { turn: itemTurn(at, priority), ...(delayMs > 0 && { due: at }) };
}
