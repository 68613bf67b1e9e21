// Dry-run (shadow) mode: decisions are computed and reported, but nothing is rejected or delayed.

import express from 'express';
import request from 'supertest';
import { rateLimit } from '../../adapters/express/index.js';
import { createLimiter, FlowgateConfigError, type LimiterEvents } from '../../src/index.js';

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

  test('with a queue, nothing waits: a take that could be served within maxWait is admitted unmarked, one that could not is marked limited', async () => {
    const clock = manualClock();
    const limiter = createLimiter({ rate: 1, interval: '1s', burst: 1, queue: { maxSize: 10, maxWait: '1500ms' }, dryRun: true, clock });
    const enqueued: unknown[] = [];
    limiter.on('enqueue', (e) => enqueued.push(e));
    expect((await limiter.take('k')).wouldReject).toBeUndefined();
    const second = await limiter.take('k'); // 1 s away: within maxWait
    expect(second).toMatchObject({ allowed: true, dryRun: true, waitedMs: 0 });
    expect(second.wouldReject).toBeUndefined();
    const third = await limiter.take('k', { cost: 1 }); // still 1 s away (nothing was taken): within maxWait
    expect(third.wouldReject).toBeUndefined();
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
