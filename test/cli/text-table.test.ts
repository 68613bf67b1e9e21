// The CLI's table cells: a key shows as it is (so that it can be copied into `flowgate reset`), control characters escaped.

import { cell } from '../../src/cli/text-table.js';

test('a key with a backslash or quotes shows as it is; control characters are escaped; long ones are cut', () => {
  expect(cell('DOMAIN\\alice')).toBe('DOMAIN\\alice');
  expect(cell('say "hi"')).toBe('say "hi"');
  expect(cell('a\nb\u001b[31m\u007f')).toBe('a\\nb\\u001b[31m\\u007f');
  expect(cell('x'.repeat(50), 10)).toBe(`${'x'.repeat(9)}…`);
});
