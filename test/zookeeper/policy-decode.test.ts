// Reading a policy node: what setPolicy writes reads back whole; a node edited by hand into figures no
// setPolicy could write reads as no policy (limiters keep their own options) instead of reaching them.

import { decodePolicy } from '../../src/stores/zookeeper/policy-registry.js';

const node = (fields: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ v: 1, name: 'api', rate: 10, intervalMs: 1000, burst: 10, updatedAt: 't', by: 'h:1', ...fields }));

test('a policy as setPolicy writes it reads back with its queue bounds, or queue off, or none', () => {
  expect(decodePolicy(node({ queue: { maxSize: 5, maxWaitMs: 2000 } }), 3)).toEqual({ name: 'api', rate: 10, intervalMs: 1000, burst: 10, version: 3, updatedAt: 't', by: 'h:1', queue: { maxSize: 5, maxWaitMs: 2000 } });
  expect(decodePolicy(node({ queue: false }), 0)?.queue).toBe(false);
  expect(decodePolicy(node({ queue: { maxSize: 0, maxWaitMs: 0 } }), 0)?.queue).toEqual({ maxSize: 0, maxWaitMs: 0 });
  const none = decodePolicy(node({}), 0);
  expect(none).toBeDefined();
  expect(none).not.toHaveProperty('queue');
});

test.each([
  ['a queue that is a string', { queue: 'on' }],
  ['a queue of null', { queue: null }],
  ['a queue of true', { queue: true }],
  ['a fractional maxSize', { queue: { maxSize: 1.5, maxWaitMs: 1000 } }],
  ['a negative maxSize', { queue: { maxSize: -1, maxWaitMs: 1000 } }],
  ['a maxSize given as a string', { queue: { maxSize: '5', maxWaitMs: 1000 } }],
  ['a missing maxWaitMs', { queue: { maxSize: 5 } }],
  ['a negative maxWaitMs', { queue: { maxSize: 5, maxWaitMs: -1 } }],
  ['a maxWaitMs past what timers take', { queue: { maxSize: 5, maxWaitMs: 2_147_483_648 } }],
  ['an infinite rate', { rate: 'Infinity' }],
  ['an infinite interval', { intervalMs: 'Infinity' }],
  ['a fractional burst', { burst: 2.5 }],
  ['a burst past the safe integers', { burst: 2 ** 60 }],
])('a node edited by hand with %s reads as no policy', (_label, fields) => {
  expect(decodePolicy(node(fields), 1)).toBeUndefined();
});
