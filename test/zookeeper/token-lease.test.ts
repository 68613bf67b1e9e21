// TokenLease.chunkSize: how many tokens a process leases at once, from its demand and the shared bucket's last look (pure, fake times).

import { TokenLease, type LeaseWindows } from '../../src/stores/zookeeper/token-lease.js';
import type { BucketPolicy } from '../../src/policy.js';

const WINDOWS: LeaseWindows = { leaseMs: 250, maxLeaseMs: 2_000 };

/** A policy with the two figures chunkSize reads; the rest is irrelevant here. */
function policy(burst: number, ratePerMs: number): BucketPolicy {
  return { burst, ratePerMs } as BucketPolicy;
}

/** A lease whose process has taken `perMs` tokens per ms for a second, ending at `now`. */
function leaseWithDemand(perMs: number, now: number, p: BucketPolicy): TokenLease {
  const lease = new TokenLease(p, 'k', now - 1_000, WINDOWS.leaseMs);
  for (let t = now - 1_000; t <= now; t += 10) lease.recordDemand(perMs * 10, t);
  return lease;
}

/** Records a look at the shared bucket: it held `tokens` at `at`. */
function looked(lease: TokenLease, tokens: number, at: number): void {
  lease.sharedTokens = tokens;
  lease.sharedAt = at;
}

/** Expects `chunk` to be about `ms` of 4 tokens/ms of demand (between 0.9 and 1.2 of it). */
function expectDemandOf(chunk: number, ms: number): void {
  expect(chunk).toBeGreaterThan(4 * ms * 0.9);
  expect(chunk).toBeLessThan(4 * ms * 1.2);
}

describe('TokenLease.chunkSize', () => {
  const now = 100_000;

  test('before any look at the shared bucket: about leaseWindow of demand', () => {
    const p = policy(1e9, 1e6);
    const lease = leaseWithDemand(4, now, p);
    const chunk = lease.chunkSize(1, p, 3, WINDOWS, now);
    expectDemandOf(chunk, 250);
  });

  test('a plentiful shared bucket: up to maxLeaseWindow of demand, so a limit far above the load costs few writes', () => {
    const p = policy(1e9, 1e6);
    const lease = leaseWithDemand(4, now, p);
    looked(lease, 1e9, now);
    const chunk = lease.chunkSize(1, p, 3, WINDOWS, now);
    expectDemandOf(chunk, 2_000);
  });

  test('beyond leaseWindow, never more than 1/(4 x members) of the tokens the shared bucket held', () => {
    // 4 tokens/ms of demand: leaseWindow asks 1,000, maxLeaseWindow 8,000; the bucket holds 24,000.
    const p = policy(100_000, 0);
    const lease = leaseWithDemand(4, now, p);
    looked(lease, 24_000, now);
    expect(lease.chunkSize(1, p, 3, WINDOWS, now)).toBeCloseTo(24_000 / 12, 6);
    // A bucket that has run short leaves the chunk at leaseWindow of demand, not less.
    lease.sharedTokens = 600;
    const short = lease.chunkSize(1, p, 3, WINDOWS, now);
    expectDemandOf(short, 250);
  });

  test('the shared bucket is extrapolated by its refill since the last look', () => {
    const p = policy(1e6, 10);
    const lease = leaseWithDemand(4, now, p);
    looked(lease, 0, now - 2_400); // 24,000 tokens refilled since: 2,000 for each of 3 members, twice leaseWindow's 1,000.
    expect(lease.chunkSize(1, p, 3, WINDOWS, now)).toBeCloseTo(24_000 / 12, 6);
  });

  test('maxLeaseWindow equal to leaseWindow turns the extension off', () => {
    const p = policy(1e9, 1e6);
    const lease = leaseWithDemand(4, now, p);
    looked(lease, 1e9, now);
    const chunk = lease.chunkSize(1, p, 3, { leaseMs: 250, maxLeaseMs: 250 }, now);
    expect(chunk).toBeLessThan(4 * 250 * 1.2);
  });

  test('at most an equal share of the burst per member, and at least the cost at hand', () => {
    const p = policy(3_000, 1e6);
    const lease = leaseWithDemand(4, now, p);
    looked(lease, 3_000, now);
    expect(lease.chunkSize(1, p, 3, { leaseMs: 2_000, maxLeaseMs: 2_000 }, now)).toBe(1_000);
    expect(lease.chunkSize(2_500, p, 3, WINDOWS, now)).toBe(2_500);
  });
});

describe('TokenLease demand', () => {
  test('a take just after the demand window turned is not read as a surge', () => {
    const p = policy(1e9, 1e6);
    const now = 100_000;
    const lease = leaseWithDemand(4, now - 5, p);
    lease.recordDemand(40, now); // a new window has just begun with one ordinary take's worth
    const chunk = lease.chunkSize(1, p, 3, WINDOWS, now);
    expect(chunk).toBeLessThan(4 * 250 * 1.2);
  });

  test('a real surge raises the chunk within a quarter of the window', () => {
    const p = policy(1e9, 1e6);
    const now = 100_000;
    const lease = leaseWithDemand(1, now, p);
    for (let t = now + 1; t <= now + 62; t++) lease.recordDemand(20, t); // 20 tokens/ms for 62 ms (a quarter window is 62.5)
    const chunk = lease.chunkSize(1, p, 3, WINDOWS, now + 62);
    expect(chunk).toBeGreaterThan(10 * 250);
  });
});
