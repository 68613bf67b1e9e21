// Parsers for option values (numbers, durations, credentials): a bad value names itself and exits 2 through commander.

import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../duration.js';

/** A finite number > 0, fractions allowed (`--rate`). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number > 0, such as 100 or 0.5');
  return n;
}

/** An integer >= 1 (`--burst`, `--keys`...). */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return n;
}

/** An integer >= 0 (`--queue-max-size`, `--keys`). */
export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number >= 0');
  return n;
}

/** The longest timer Node runs as asked (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

/** A duration in ms (`'1500'`) or with a unit (`'500ms'`, `'2s'`, `'1m'`, `'1h'`), at least `minMs` and at most 24 days. */
export function duration(minMs: number): (value: string) => number {
  return (value) => {
    let ms: number;
    try {
      ms = parseDuration(/^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value, 'duration');
    } catch {
      throw new InvalidArgumentError("must be a duration such as '500ms', '2s', '1m', '1h' (or milliseconds)");
    }
    if (ms < minMs) throw new InvalidArgumentError(`must be at least ${minMs} ms`);
    // Node's timers take at most 2^31 - 1 ms (about 24.8 days); a longer one would fire at once.
    if (ms > MAX_TIMER_MS) throw new InvalidArgumentError('must be at most 24 days');
    return ms;
  };
}

/** A digest credential `user:password`. */
export function credential(value: string): string {
  if (!/^[^:]+:.+$/.test(value)) throw new InvalidArgumentError("must be a digest credential 'user:password'");
  return value;
}
