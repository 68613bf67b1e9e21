// Many takes given one AbortSignal (a job's, a shutdown's): one listener on it (Node warns of a leak
// past 10), and the abort answers every one of them, in both queues.

import { execFileSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { whenAborted } from '../../src/abort-listeners.js';
import { createLimiter } from '../../src/limiter.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { Store } from '../../src/store.js';
import { BUILT, ensureBuilt } from '../helpers/ensure-built.js';
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
  // A callback that ends a later wait during the dispatch: that one is not called.
  let stopLater = (): void => undefined;
  whenAborted(controller.signal, () => stopLater());
  stopLater = whenAborted(controller.signal, () => calls.push(99));
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

describe('an event listener that throws while waiters leave (a child process: the error is uncaught there, as a listener error is)', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  // The limiter's emit of queue events and the signal's dispatch are the same for both queues.
  test('every waiter of the shared signal is still answered, and the error is reported', () => {
    const script = `
      const { createLimiter, MemoryStore } = require(${JSON.stringify(BUILT)});
      const uncaught = [];
      process.on('uncaughtException', (error) => uncaught.push(error.message));
      const store = new MemoryStore();
      const limiter = createLimiter({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '1h', orderGrace: 0 }, store });
      let thrown = 0;
      limiter.on('abort', () => { if (thrown++ === 0) throw new Error('listener failed'); });
      (async () => {
        const job = new AbortController();
        await limiter.take('k', { signal: job.signal });
        const waiting = [0, 1, 2].map((i) => limiter.take('k', { signal: job.signal }).then((d) => i + ':' + d.reason));
        await new Promise((resolve) => setTimeout(resolve, 20));
        job.abort();
        const answers = await Promise.race([Promise.all(waiting), new Promise((resolve) => setTimeout(() => resolve('hung'), 1000))]);
        await new Promise((resolve) => setTimeout(resolve, 20));
        console.log(JSON.stringify({ answers, uncaught }));
        await limiter.close();
      })();
    `;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    // Before: the first listener error ended the signal's dispatch, and the waiter it was about
    // was never answered: ['hung'] (the others, or all three, pending).
    expect(JSON.parse(out.trim().split('\n').pop() ?? '{}')).toEqual({ answers: ['0:aborted', '1:aborted', '2:aborted'], uncaught: ['listener failed'] });
  });
});
