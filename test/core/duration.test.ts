// Duration parsing: numbers of milliseconds and unit strings.

import { parseDuration } from '../../src/duration.js';
import { FlowgateConfigError } from '../../src/errors.js';

describe('parseDuration', () => {
  test.each([
    [250, 250],
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [' 3 s ', 3000],
    [0, 0],
  ])('%p is %p ms', (input, expected) => {
    expect(parseDuration(input, 'interval')).toBe(expected);
  });

  test.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '1 minute', '10', 's', '', null, {}, '-1s'])('%p is rejected naming the option', (input) => {
    expect(() => parseDuration(input, 'queue.maxWait')).toThrow(FlowgateConfigError);
    expect(() => parseDuration(input, 'queue.maxWait')).toThrow(/queue\.maxWait=/);
  });
});
