// Construction-time validation: every bad option throws FlowgateConfigError naming option and value.

import { createLimiter } from '../../src/limiter.js';
import { FlowgateConfigError } from '../../src/errors.js';
import type { LimiterOptions } from '../../src/limiter-options.js';

function configError(options: unknown): FlowgateConfigError {
  try {
    createLimiter(options as LimiterOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(FlowgateConfigError);
    return error as FlowgateConfigError;
  }
  throw new Error('expected a FlowgateConfigError');
}

describe('limiter options', () => {
  test.each([
    [{ rate: 0 }, 'rate', /rate=0: must be a finite number > 0/],
    [{ rate: -5 }, 'rate', /rate=-5/],
    [{ rate: Number.NaN }, 'rate', /rate=NaN/],
    [{ rate: Number.POSITIVE_INFINITY }, 'rate', /rate=Infinity/],
    [{ rate: '10' }, 'rate', /rate="10"/],
    [{}, 'rate', /rate=undefined/],
    [{ rate: 10, burst: 0 }, 'burst', /burst=0: must be an integer >= 1/],
    [{ rate: 10, burst: 2.5 }, 'burst', /burst=2.5/],
    [{ rate: 10, interval: 'soon' }, 'interval', /interval="soon"/],
    [{ rate: 10, interval: 0 }, 'interval', /interval=0: must be longer than 0 ms/],
    // One bound in both messages: a negative interval is not told that 0 would do.
    [{ rate: 10, interval: -5 }, 'interval', /interval=-5: a number of milliseconds > 0 or a string/],
    [{ rate: 10, interval: '0s' }, 'interval', /interval="0s": must be longer than 0 ms/],
    [{ rate: 10, queue: { maxWait: -1 } }, 'queue.maxWait', /queue\.maxWait=-1/],
    [{ rate: 10, queue: { maxSize: -1 } }, 'queue.maxSize', /queue\.maxSize=-1/],
    [{ rate: 10, queue: { maxSize: 1.5 } }, 'queue.maxSize', /queue\.maxSize=1\.5/],
    [{ rate: 10, queue: 'yes' }, 'queue', /queue="yes"/],
    [{ rate: 10, queue: { batchWindow: '2s' } }, 'queue.batchWindow', /queue\.batchWindow="2s": must be at most '1s'/],
    [{ rate: 10, queue: { batchWindow: -3 } }, 'queue.batchWindow', /queue\.batchWindow=-3/],
    [{ rate: 10, dryRun: 1 }, 'dryRun', /dryRun=1: must be true or false/],
    [{ rate: 10, name: '' }, 'name', /name=""/],
    [{ rate: 10, store: {} }, 'store', /missing: take, refund, peek, reset, close/],
    [{ rate: 10, clock: {} }, 'clock', /clock=\{\}/],
    [{ rate: 10, queue: [] }, 'queue', /must be true, false, or \{ maxSize, maxWait \}/],
    [{ rate: 10, burst: 1e20 }, 'burst', /burst=100000000000000000000: must be at most 9007199254740991/],
    [{ rate: 1e308 }, 'rate', /must be at most 9007199254740991/],
    // rate / interval underflows to 0 tokens per ms (never refills: Infinity and NaN in every figure) or overflows to Infinity (NaN tokens).
    [{ rate: 5e-324 }, 'rate', /rate=5e-324: .*refills no token/],
    [{ rate: 1, interval: 1e-310 }, 'interval', /interval=1e-310: .*too short/],
  ])('%p -> %s', (options, option, message) => {
    const error = configError(options);
    expect(error.option).toBe(option);
    expect(error.code).toBe('ERR_FLOWGATE_CONFIG');
    expect(error.message).toMatch(message);
  });

  test('an unknown option is named, with the flowgate option it most likely means', () => {
    const error = configError({ rate: 10, windowMS: 1000 });
    expect(error.option).toBe('windowMS');
    expect(error.message).toMatch(/windowMS=1000: unknown option \(did you mean 'interval'\?\)/);
    expect(configError({ rate: 10, Burst: 5 }).message).toMatch(/did you mean 'burst'/);
    expect(configError({ rate: 10, queue: { maxsize: 5 } }).option).toBe('queue.maxsize');
  });

  test("another library's option names get the flowgate option, and its unit when that differs", () => {
    expect(configError({ rate: 10, duration: 60 }).message).toMatch(/did you mean 'interval'\? A number is in ms.*rate-limiter-flexible's duration is in seconds: write '60s'/);
    expect(configError({ rate: 10, ttl: 60_000 }).message).toMatch(/did you mean 'interval'/);
    expect(configError({ rate: 10, blockDuration: 60 }).message).toMatch(/Retry-After/);
    // `key` is an adapter option: a limiter does not hint at it.
    expect(configError({ rate: 10, keyGenerator: () => 'k' }).message).not.toMatch(/did you mean/);
  });

  test('not an object', () => {
    expect(configError(null).option).toBe('options');
  });

  test('defaults: interval 1 s, burst = ceil(rate), name "default", no queue', () => {
    const limiter = createLimiter({ rate: 2.5 });
    expect(limiter.policy).toMatchObject({ name: 'default', rate: 2.5, intervalMs: 1000, burst: 3 });
    expect(limiter.queueing).toBe(false);
  });

  test('queue: true takes the default bounds', async () => {
    const limiter = createLimiter({ rate: 1, interval: '1h', queue: true });
    expect(limiter.queueing).toBe(true);
    await limiter.close();
  });
});
