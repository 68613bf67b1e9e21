// Dry-run (shadow) mode: decisions are computed and reported, but nothing is rejected or delayed.

import express from 'express';
import request from 'supertest';
import { rateLimit } from '../../adapters/express/index.js';
import { createLimiter, FlowgateConfigError, type Decision, type LimiterEvents, type LimiterOptions } from '../../src/index.js';

function manualClock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('dryRun: true', () => {
  test('takes over the limit are admitted, marked with the reason they would have been rejected for, and consume nothing', async () => {
    const limiter = createLimiter({ rate: 2, interval: '1s', burst: 2, dryRun: true, clock: manualClock() });
    const admits: Array<LimiterEvents['admit']> = [];
    const rejects: unknown[] = [];
    limiter.on('admit', (e) => admits.push(e));
    limiter.on('reject', (e) => rejects.push(e));
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.take('k'));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true]);
    expect(decisions.map((d) => d.dryRun)).toEqual([true, true, true, true]);
    expect(decisions.map((d) => d.wouldReject)).toEqual([undefined, undefined, 'limited', 'limited']);
    expect(decisions.map((d) => d.remaining)).toEqual([1, 0, 0, 0]);
    expect(decisions.every((d) => d.retryAfterMs === 0 && d.waitedMs === 0)).toBe(true);
    expect(admits.map((e) => e.wouldReject)).toEqual([undefined, undefined, 'limited', 'limited']);
    expect(rejects).toEqual([]);
    // Nothing was taken by the would-be rejections: the bucket is as enforcement would leave it.
    expect((await limiter.peek('k')).remaining).toBe(0);
    await limiter.close();
  });

  test('a cost above burst is admitted with wouldReject cost-exceeds-burst', async () => {
    const limiter = createLimiter({ rate: 2, burst: 2, dryRun: true, clock: manualClock() });
    const decision = await limiter.take('k', { cost: 5 });
    expect(decision).toMatchObject({ allowed: true, dryRun: true, wouldReject: 'cost-exceeds-burst' });
    await limiter.close();
  });

  test('with a queue, nothing waits: a take that could be served within maxWait (behind the would-be waiters) is admitted unmarked, one that could not is marked limited', async () => {
    const clock = manualClock();
    const limiter = createLimiter({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '1500ms' }, dryRun: true, clock });
    const enqueued: unknown[] = [];
    limiter.on('enqueue', (e) => enqueued.push(e));
    expect((await limiter.take('k')).wouldReject).toBeUndefined();
    const second = await limiter.take('k'); // 1 s away: within maxWait
    expect(second).toMatchObject({ allowed: true, dryRun: true, waitedMs: 0 });
    expect(second.wouldReject).toBeUndefined();
    // The second would have waited: it holds its place, so the third would wait 2 s, beyond maxWait.
    const third = await limiter.take('k', { cost: 1 });
    expect(third).toMatchObject({ allowed: true, dryRun: true, waitedMs: 0, wouldReject: 'limited' });
    const limiter2 = createLimiter({ rate: 1, interval: '10s', burst: 1, queue: { maxSize: 10, maxWait: '1s' }, dryRun: true, clock });
    await limiter2.take('k');
    expect((await limiter2.take('k')).wouldReject).toBe('limited'); // 10 s away: beyond maxWait
    expect(enqueued).toEqual([]);
    await limiter.close();
    await limiter2.close();
  });

  test('dryRun must be a boolean', () => {
    expect(() => createLimiter({ rate: 1, dryRun: 'yes' as unknown as boolean })).toThrow(FlowgateConfigError);
    expect(() => createLimiter({ rate: 1, dryRun: 'yes' as unknown as boolean })).toThrow(/dryRun/);
  });

  test('Express: every request is served, with RateLimit headers showing the exhausted limit and no Retry-After', async () => {
    const app = express();
    const mw = rateLimit({ rate: 2, interval: '1m', burst: 2, dryRun: true });
    app.use(mw);
    app.get('/', (req, res) => res.json({ wouldReject: req.rateLimit?.wouldReject ?? null }));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await request(app).get('/'));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => a.body.wouldReject)).toEqual([null, null, 'limited', 'limited']);
    expect(answers[3]?.headers.ratelimit).toBe('"default";r=0;t=60');
    expect(answers[3]?.headers['retry-after']).toBeUndefined();
    await mw.limiter.close();
  });
});

// With a queue, dry-run must mark exactly the takes enforcement would reject: the same sequence of
// takes goes to a dry-run limiter and to an identical enforcing one, and the outcomes are compared.
// Fake timers drive both setTimeout and the limiters' clock, so waits are exact and instant.
describe('dryRun with a queue reports what enforcement would do', () => {
  const clock = { now: () => Date.now() };
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** One take: at `at` ms from the start, on `key` (default 'k'), with `cost` and `priority`. */
  interface Step {
    readonly at: number;
    readonly key?: string;
    readonly cost?: number;
    readonly priority?: number;
  }
  type Outcome = string; // 'ok' or the (would-be) rejection reason
  interface Run {
    readonly outcomes: Outcome[];
    /** `remaining` of each step's key right after the takes of each instant. */
    readonly remaining: number[];
  }

  const instants = (steps: readonly Step[]) => [...new Set(steps.map((s) => s.at))].sort((a, b) => a - b);
  const takeOf = (limiter: ReturnType<typeof createLimiter>, s: Step) =>
    limiter.take(s.key ?? 'k', { ...(s.cost !== undefined && { cost: s.cost }), ...(s.priority !== undefined && { priority: s.priority }) });

  /** Enforced: the takes of each instant start together; waiting ones settle as fake time goes on. */
  async function enforced(options: LimiterOptions, steps: readonly Step[]): Promise<Run> {
    const limiter = createLimiter({ ...options, clock });
    const start = Date.now();
    const outcomes: Outcome[] = [];
    const remaining: number[] = [];
    const pending: Array<Promise<void>> = [];
    for (const at of instants(steps)) {
      await jest.advanceTimersByTimeAsync(start + at - Date.now());
      steps.forEach((s, i) => {
        if (s.at === at) pending.push(takeOf(limiter, s).then((d) => void (outcomes[i] = d.allowed ? 'ok' : (d.reason as string))));
      });
      await jest.advanceTimersByTimeAsync(0);
      for (const s of steps.filter((s) => s.at === at)) remaining.push((await limiter.peek(s.key ?? 'k')).remaining);
    }
    await jest.advanceTimersByTimeAsync(120_000);
    await Promise.all(pending);
    await limiter.close();
    return { outcomes, remaining };
  }

  /** Dry-run: every take is answered at once (no fake time passes), one after the other or all of an instant together. */
  async function dryRun(options: LimiterOptions, steps: readonly Step[], mode: 'sequential' | 'concurrent'): Promise<Run> {
    const limiter = createLimiter({ ...options, clock, dryRun: true });
    const enqueued: unknown[] = [];
    limiter.on('enqueue', (e) => enqueued.push(e));
    const start = Date.now();
    const outcomes: Outcome[] = [];
    const remaining: number[] = [];
    const record = (i: number, d: Decision) => {
      expect(d).toMatchObject({ allowed: true, dryRun: true, waitedMs: 0, retryAfterMs: 0 });
      outcomes[i] = d.wouldReject ?? 'ok';
    };
    for (const at of instants(steps)) {
      await jest.advanceTimersByTimeAsync(start + at - Date.now());
      const now = Date.now();
      const indexes = steps.flatMap((s, i) => (s.at === at ? [i] : []));
      if (mode === 'sequential') {
        for (const i of indexes) record(i, await takeOf(limiter, steps[i] as Step));
      } else {
        const decisions = await Promise.all(indexes.map((i) => takeOf(limiter, steps[i] as Step)));
        decisions.forEach((d, j) => record(indexes[j] as number, d));
      }
      expect(Date.now()).toBe(now); // nothing was delayed
      await jest.advanceTimersByTimeAsync(0);
      for (const i of indexes) remaining.push((await limiter.peek(steps[i]?.key ?? 'k')).remaining);
    }
    expect(enqueued).toEqual([]); // nothing waited
    await limiter.close();
    return { outcomes, remaining };
  }

  /** Runs `steps` enforced and in dry-run (both ways), expects the same outcomes and buckets; returns the enforced outcomes. */
  async function compare(options: LimiterOptions, steps: readonly Step[]): Promise<Outcome[]> {
    const real = await enforced(options, steps);
    for (const mode of ['sequential', 'concurrent'] as const) {
      const dry = await dryRun(options, steps, mode);
      expect({ mode, outcomes: dry.outcomes }).toEqual({ mode, outcomes: real.outcomes });
      expect({ mode, remaining: dry.remaining }).toEqual({ mode, remaining: real.remaining });
    }
    return real.outcomes;
  }

  const burstAt = (at: number, n: number, extra: Omit<Step, 'at'> = {}): Step[] => Array.from({ length: n }, () => ({ at, ...extra }));

  test("the reported case: a would-be waiter holds its place, so the takes that could not be served within maxWait are marked 'limited'", async () => {
    const outcomes = await compare({ rate: 1, burst: 1, queue: { maxWait: '2500ms' } }, burstAt(0, 5));
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'limited', 'limited']);
  });

  test('takes spread over time: would-be waiters take their tokens when they would have been served', async () => {
    const steps = [...burstAt(0, 4), ...burstAt(500, 2), ...burstAt(1500, 2), ...burstAt(2600, 1), ...burstAt(6000, 4), ...burstAt(9000, 1)];
    const outcomes = await compare({ rate: 1, burst: 2, queue: { maxSize: 50, maxWait: '3s' } }, steps);
    expect(outcomes.filter((o) => o === 'limited').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(steps.length / 2);
  });

  test('with costs: a costly would-be waiter delays the takes behind it, a refused one takes nothing', async () => {
    const costs = [3, 3, 5, 2, 1, 4, 1, 1];
    const steps = [...costs.map((cost) => ({ at: 0, cost })), { at: 300, cost: 2 }, { at: 700, cost: 5 }, { at: 1200, cost: 1 }];
    const outcomes = await compare({ rate: 10, interval: '1s', burst: 5, queue: { maxSize: 50, maxWait: '1s' } }, steps);
    // 3 at once; 3 waits 100 ms; 5 waits 600 ms; 2 (800 ms) and 1 (900 ms) wait; 4 (1.3 s) is refused; 1 (1 s) waits; 1 (1.1 s) is refused.
    expect(outcomes.slice(0, 8)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'limited', 'ok', 'limited']);
  });

  test("with maxSize: takes beyond maxSize would-be waiters are marked 'queue-full', and places free up as they would have been served", async () => {
    const steps = [...burstAt(0, 5), ...burstAt(1000, 2), ...burstAt(2500, 3)];
    const outcomes = await compare({ rate: 1, burst: 1, queue: { maxSize: 2, maxWait: '10s' } }, steps);
    expect(outcomes.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'queue-full', 'queue-full']);
    expect(outcomes.slice(5, 7)).toEqual(['ok', 'queue-full']); // at 1 s one would-be waiter was served: one place is free
  });

  test("with maxSize 0 every take that would wait is marked 'queue-full'", async () => {
    const outcomes = await compare({ rate: 1, burst: 2, queue: { maxSize: 0, maxWait: '10s' } }, [...burstAt(0, 4), ...burstAt(1000, 2)]);
    expect(outcomes).toEqual(['ok', 'ok', 'queue-full', 'queue-full', 'ok', 'queue-full']);
  });

  test('keys have their own lines; priorities change the order of a line, not what is admitted', async () => {
    const steps: Step[] = [
      ...burstAt(0, 4, { key: 'a' }),
      ...burstAt(0, 3, { key: 'b', cost: 2 }),
      { at: 0, key: 'a', priority: 5 },
      { at: 100, key: 'a', priority: 1 },
      { at: 100, key: 'a' },
      { at: 100, key: 'b', cost: 1, priority: 3 },
      { at: 900, key: 'a', priority: 9 },
      { at: 900, key: 'b', priority: 9 },
      { at: 900, key: 'b', cost: 2 },
    ];
    const outcomes = await compare({ rate: 2, interval: '1s', burst: 2, queue: { maxSize: 10, maxWait: '1200ms' } }, steps);
    expect(outcomes).toContain('limited');
  });

  test('a reset lets the would-be waiters be served at once, as it would the waiters', async () => {
    const options: LimiterOptions = { rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '3s' }, clock };
    const real = createLimiter(options);
    const dry = createLimiter({ ...options, dryRun: true });
    const first = [0, 1, 2].map(() => real.take('k'));
    for (let i = 0; i < 3; i++) await dry.take('k');
    await jest.advanceTimersByTimeAsync(0);
    await real.reset('k');
    await dry.reset('k');
    await jest.advanceTimersByTimeAsync(0);
    // After the reset the next would-be waiter was served at once and the line is one shorter.
    const realNext = [0, 1, 2].map(() => real.take('k'));
    const dryNext: Array<string> = [];
    for (let i = 0; i < 3; i++) dryNext.push((await dry.take('k')).wouldReject ?? 'ok');
    await jest.advanceTimersByTimeAsync(60_000);
    const realOutcomes = (await Promise.all(realNext)).map((d) => (d.allowed ? 'ok' : d.reason));
    expect(dryNext).toEqual(realOutcomes);
    expect(realOutcomes).toContain('limited');
    await Promise.all(first);
    await real.close();
    await dry.close();
  });

  test('a queue turned off by a live change: takes behind the would-be waiters still in line are marked limited, as they would be refused', async () => {
    const options: LimiterOptions = { rate: 1, burst: 1, queue: { maxSize: 10, maxWait: '5s' }, clock };
    const real = createLimiter(options);
    const dry = createLimiter({ ...options, dryRun: true });
    const waiting = [0, 1, 2].map(() => real.take('k'));
    for (let i = 0; i < 3; i++) expect((await dry.take('k')).wouldReject).toBeUndefined();
    await jest.advanceTimersByTimeAsync(0);
    await real.setPolicy({ queue: false });
    await dry.setPolicy({ queue: false });
    expect(await real.take('k')).toMatchObject({ allowed: false, reason: 'limited' });
    expect(await dry.take('k')).toMatchObject({ allowed: true, wouldReject: 'limited' });
    // Once the line ahead is served, a take goes straight to the bucket again.
    await jest.advanceTimersByTimeAsync(3000);
    expect((await Promise.all(waiting)).map((d) => d.allowed)).toEqual([true, true, true]);
    expect(await real.take('k')).toMatchObject({ allowed: true });
    expect(await dry.take('k')).toMatchObject({ allowed: true });
    expect((await dry.take('k')).wouldReject).toBe('limited');
    await real.close();
    await dry.close();
  });

  test('a would-be waiter does not keep a closed limiter busy', async () => {
    const dry = createLimiter({ rate: 1, interval: '1m', burst: 1, queue: { maxSize: 10, maxWait: '5m' }, dryRun: true, clock });
    for (let i = 0; i < 3; i++) expect((await dry.take('k')).wouldReject).toBeUndefined();
    await dry.close();
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('dryRun: giving tokens back when a request is not served', () => {
  test('a would-be rejection is not given back (it took nothing): the shadow bucket stays as enforcement would have it', async () => {
    const { giveBack } = await import('../../src/http/take-while-connected.js');
    const limiter = createLimiter({ rate: 1, interval: '1m', burst: 1, dryRun: true, clock: manualClock() });
    expect((await limiter.take('k')).wouldReject).toBeUndefined();
    const over = await limiter.take('k');
    expect(over.wouldReject).toBe('limited');
    // A concurrency limit's permit store failed, or the client left before its permit came.
    await giveBack(limiter, 'k', 1, over);
    expect((await limiter.peek('k')).remaining).toBe(0);
    expect((await limiter.take('k')).wouldReject).toBe('limited');
    await limiter.close();
  });

  test('a take that did take tokens, of a client that left meanwhile, gives them back as it would without dryRun', async () => {
    const { EventEmitter } = await import('node:events');
    const { takeWhileConnected } = await import('../../src/http/take-while-connected.js');
    for (const dryRun of [false, true]) {
      const limiter = createLimiter({ rate: 1, interval: '1m', burst: 1, queue: { maxSize: 5, maxWait: '1s' }, dryRun, clock: manualClock() });
      const response = new EventEmitter();
      const taking = takeWhileConnected(limiter, 'k', 1, response);
      // The client goes away while the take is being decided.
      response.emit('close');
      expect(await taking).toBeUndefined();
      expect({ dryRun, remaining: (await limiter.peek('k')).remaining }).toEqual({ dryRun, remaining: 1 });
      await limiter.close();
    }
  });
});
