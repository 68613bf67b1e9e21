// Many takes given one AbortSignal (a job's, a shutdown's): one listener on it (Node warns of a leak
// past 10), and the abort answers every one of them, in both queues.

import { getEventListeners } from 'node:events';
import { whenAborted } from '../../src/abort-listeners.js';
import { createLimiter } from '../../src/limiter.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { Store } from '../../src/store.js';
import { reservingStore } from '../helpers/reserving-store.js';

const clock = { now: () => performance.now() };

describe.each([
  ['the memory store (overflow queue)', (): Store => new MemoryStore()],
  ['a reserving store (reservation queue)', (): Store => reservingStore(clock)],
])('50 waiting takes sharing one signal, on %s', (_label, makeStore) => {
  test('put one listener on it, and are all answered aborted', async () => {
    const limiter = createLimiter({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 100, maxWait: '1h', orderGrace: 0 }, clock, store: makeStore() });
    const job = new AbortController();
    expect((await limiter.take('k', { signal: job.signal })).allowed).toBe(true);
    const waiting = Array.from({ length: 50 }, () => limiter.take('k', { signal: job.signal }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Before: one listener per take, 50 (and Node's MaxListenersExceededWarning past 10).
    expect(getEventListeners(job.signal, 'abort')).toHaveLength(1);
    job.abort();
    const answers = await Promise.all(waiting);
    expect(answers).toHaveLength(50);
    expect(answers.every((d) => !d.allowed && d.reason === 'aborted')).toBe(true);
    await limiter.close();
  });
});

test('whenAborted: one listener for many waits; a stopped wait is not called; an aborted signal calls back in a microtask', async () => {
  const controller = new AbortController();
  const calls: number[] = [];
  const stops = Array.from({ length: 20 }, (_, i) => whenAborted(controller.signal, () => calls.push(i)));
  stops[3]?.();
  controller.abort();
  expect(calls).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 3));
  const late: string[] = [];
  whenAborted(controller.signal, () => late.push('called'));
  const stopped = whenAborted(controller.signal, () => late.push('stopped'));
  stopped();
  expect(late).toEqual([]);
  await Promise.resolve();
  expect(late).toEqual(['called']);
});
