// Parses durations given as milliseconds or as strings such as '500ms', '1s', '1m', '1h'.

import { FlowgateConfigError } from './errors.js';

/** A duration: a number of milliseconds, or a string with a unit (`'250ms'`, `'1.5s'`, `'1m'`, `'1h'`). */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/;

/** Node's longest timer (ms, about 24.8 days): a longer one fires after 1 ms, with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Refuses a duration that a timer will be armed with when it is longer than Node's longest timer,
 * with {@link FlowgateConfigError} naming `option` and the `value` given; returns `ms` otherwise.
 */
export function timerDuration(ms: number, option: string, value: unknown): number {
  if (ms > MAX_TIMER_MS) throw new FlowgateConfigError(option, value, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days, Node's longest timer)`);
  return ms;
}

/** The least duration an option accepts: `ms` itself (or only more, when `exclusive`), and why. */
export interface LeastDuration {
  readonly ms: number;
  readonly exclusive?: boolean;
  readonly why?: string;
}

/**
 * Converts a {@link Duration} to milliseconds, throwing {@link FlowgateConfigError} naming `option`
 * when the value is not a finite duration of at least `least` (default: 0 ms).
 */
export function parseDuration(value: unknown, option: string, least: LeastDuration = { ms: 0 }): number {
  const bound = `${least.exclusive === true ? '>' : '>='} ${least.ms}`;
  const allowed = `a number of milliseconds ${bound} or a string such as '500ms', '1s', '1m', '1h'`;
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) ms = value;
  const match = typeof value === 'string' ? PATTERN.exec(value) : null;
  if (match) ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (ms === undefined) throw new FlowgateConfigError(option, value, allowed);
  if (least.exclusive === true ? ms <= least.ms : ms < least.ms) {
    const why = least.why === undefined ? '' : ` (${least.why})`;
    throw new FlowgateConfigError(option, value, `must be ${least.exclusive === true ? 'longer than' : 'at least'} ${least.ms} ms${why}`);
  }
  return ms;
}
