// Pure token-bucket math, with explicit clock readings.

import { fits, fullBucket, msUntilFits, msUntilFull, returnTokens, takeTokens, tokensAt } from '../../src/token-bucket.js';

const shape = { ratePerMs: 10 / 1000, burst: 20 }; // 10 tokens per second, burst 20

describe('token bucket math', () => {
  test('a new bucket is full', () => {
    expect(tokensAt(fullBucket(shape, 0), shape, 0)).toBe(20);
  });

  test('refill is continuous and fractional, capped at burst', () => {
    const state = { tokens: 0, updatedAt: 1000 };
    expect(tokensAt(state, shape, 1050)).toBeCloseTo(0.5, 9);
    expect(tokensAt(state, shape, 1100)).toBeCloseTo(1, 9);
    expect(tokensAt(state, shape, 10_000)).toBe(20);
  });

  test('a clock reading before the last update never removes tokens', () => {
    expect(tokensAt({ tokens: 5, updatedAt: 1000 }, shape, 900)).toBe(5);
  });

  test('take succeeds only when the cost fits, and refills to now either way', () => {
    const empty = { tokens: 0, updatedAt: 0 };
    const early = takeTokens(empty, shape, 1, 50);
    expect(early.taken).toBe(false);
    expect(early.state).toEqual({ tokens: 0.5, updatedAt: 50 });
    const onTime = takeTokens(empty, shape, 1, 100);
    expect(onTime.taken).toBe(true);
    expect(onTime.state.tokens).toBeCloseTo(0, 9);
  });

  test('cost may be fractional or larger than one', () => {
    const outcome = takeTokens(fullBucket(shape, 0), shape, 7.5, 0);
    expect(outcome).toEqual({ taken: true, state: { tokens: 12.5, updatedAt: 0 } });
  });

  test('time until a cost fits', () => {
    expect(msUntilFits(0, 1, shape)).toBeCloseTo(100, 9);
    expect(msUntilFits(0.5, 3, shape)).toBeCloseTo(250, 9);
    expect(msUntilFits(4, 3, shape)).toBe(0);
  });

  test('after exactly the computed wait the cost fits (no floating-point shortfall)', () => {
    for (const [tokens, cost] of [[0.1, 0.3], [0.7, 3], [1 / 3, 2], [19.999, 20]] as const) {
      const wait = msUntilFits(tokens, cost, shape);
      const later = tokensAt({ tokens, updatedAt: 0 }, shape, wait);
      expect(fits(later, cost)).toBe(true);
    }
  });

  test('time until full', () => {
    expect(msUntilFull(20, shape)).toBe(0);
    expect(msUntilFull(0, shape)).toBeCloseTo(2000, 9);
    expect(msUntilFull(15, shape)).toBeCloseTo(500, 9);
  });

  test('returned tokens never exceed burst', () => {
    expect(returnTokens({ tokens: 19, updatedAt: 0 }, shape, 5, 0).tokens).toBe(20);
    expect(returnTokens({ tokens: 2, updatedAt: 0 }, shape, 3, 100).tokens).toBeCloseTo(6, 9);
  });
});

test('takeTokens and returnTokens never move the bucket time back (a clock that stepped back)', () => {
  const shape = { burst: 10, ratePerMs: 0.01 };
  const state = { tokens: 2, updatedAt: 1500 };
  expect(takeTokens(state, shape, 1, 1000).state).toEqual({ tokens: 1, updatedAt: 1500 });
  expect(takeTokens(state, shape, 5, 1000).state).toEqual({ tokens: 2, updatedAt: 1500 });
  expect(returnTokens(state, shape, 1, 1000)).toEqual({ tokens: 3, updatedAt: 1500 });
});
