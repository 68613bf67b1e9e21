// Parses durations given as milliseconds or as strings such as '500ms', '1s', '1m', '1h'.

import { FlowgateConfigError } from './errors.js';

/** A duration: a number of milliseconds, or a string with a unit (`'250ms'`, `'1.5s'`, `'1m'`, `'1h'`). */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/;

/**
 * Converts a {@link Duration} to milliseconds, throwing {@link FlowgateConfigError} naming `option`
 * when the value is not a finite, non-negative duration.
 */
export function parseDuration(value: unknown, option: string): number {
  const allowed = "a number of milliseconds >= 0 or a string such as '500ms', '1s', '1m', '1h'";
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new FlowgateConfigError(option, value, allowed);
    return value;
  }
  if (typeof value === 'string') {
    const match = PATTERN.exec(value);
    if (match) return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  throw new FlowgateConfigError(option, value, allowed);
}
