// ConcurrencyLimiter on the in-memory permit store: exact counts per key, idempotent release, decisions, validation.

import { createConcurrencyLimiter, type PermitDecision } from '../../src/concurrency/concurrency-limiter.js';
import { MemoryPermitStore } from '../../src/concurrency/memory-permit-store.js';
import { FlowgateConfigError } from '../../src/errors.js';
import { MemoryStore } from '../../src/memory-store.js';
import type { Store } from '../../src/store.js';

describe('ConcurrencyLimiter (memory)', () => {
  test('admits up to the limit per key, then refuses with reason concurrency; keys are independent', async () => {
    const limiter = createConcurrencyLimiter({ concurrency: 2, name: 'uploads' });
    const a = await limiter.acquire('alice');
    const b = await limiter.acquire('alice');
    const c = await limiter.acquire('alice');
    expect([a.allowed, b.allowed, c.allowed]).toEqual([true, true, false]);
    expect([a.remaining, b.remaining, c.remaining]).toEqual([1, 0, 0]);
    expect(c.reason).toBe('concurrency');
    expect(c.permit).toBeUndefined();
    expect(c.limit).toBe(2);
    expect(c.policy.name).toBe('uploads');
    expect((await limiter.acquire('bob')).allowed).toBe(true);
    expect(limiter.inFlight('alice')).toBe(2);
    expect(limiter.inFlight('bob')).toBe(1);
  });

  test('events: acquire (remaining), reject (reason, retryAfterMs), release (heldMs, once per permit)', async () => {
    const limiter = createConcurrencyLimiter({ concurrency: 1, name: 'evented' });
    const seen: string[] = [];
    limiter.on('acquire', (e) => seen.push(`acquire ${e.key} ${e.remaining}`));
    limiter.on('reject', (e) => seen.push(`reject ${e.key} ${e.reason} ${e.retryAfterMs >= 0}`));
    limiter.on('release', (e) => seen.push(`release ${e.key} ${e.heldMs >= 0}`));
    const first = await limiter.acquire('k');
    await limiter.acquire('k');
    first.permit?.release();
    first.permit?.release();
    await limiter.close();
    await limiter.acquire('k');
    expect(seen).toEqual(['acquire k 0', 'reject k concurrency true', 'release k true', 'reject k closed true']);
  });

  test('dryRun: over the limit, an acquire is admitted, marked, and holds no permit; the acquire event carries wouldReject', async () => {
    const limiter = createConcurrencyLimiter({ concurrency: 1, name: 'shadow', dryRun: true });
    const marked: Array<string | undefined> = [];
    limiter.on('acquire', (e) => marked.push(e.wouldReject));
    const real = await limiter.acquire('k');
    const shadow = await limiter.acquire('k');
    expect(real).toMatchObject({ allowed: true });
    expect(real.dryRun).toBeUndefined();
    expect(shadow).toMatchObject({ allowed: true, dryRun: true, wouldReject: 'concurrency', remaining: 0 });
    expect(limiter.inFlight('k')).toBe(1);
    expect(shadow.permit?.release()).toBe(true);
    expect(limiter.inFlight('k')).toBe(1);
    real.permit?.release();
    expect(limiter.inFlight('k')).toBe(0);
    expect(marked).toEqual([undefined, 'concurrency']);
    expect(() => createConcurrencyLimiter({ concurrency: 1, dryRun: 'yes' as unknown as boolean })).toThrow(/dryRun.*yes.*true or false/);
    await limiter.close();
  });

  test('release is idempotent: a permit released twice frees one slot', async () => {
    const limiter = createConcurrencyLimiter({ concurrency: 1 });
    const first = await limiter.acquire('k');
    expect(first.permit?.release()).toBe(true);
    expect(first.permit?.release()).toBe(false);
    expect(first.permit?.released).toBe(true);
    const second = await limiter.acquire('k');
    expect(second.allowed).toBe(true);
    first.permit?.release();
    expect((await limiter.acquire('k')).allowed).toBe(false);
    second.permit?.release();
    expect(limiter.inFlight('k')).toBe(0);
  });

  test('never more than the limit in flight under a random interleaving of acquires and releases', async () => {
    const limiter = createConcurrencyLimiter({ concurrency: 3 });
    const held: PermitDecision[] = [];
    let maxInFlight = 0;
    for (let step = 0; step < 2000; step++) {
      if (Math.random() < 0.55) {
        const decision = limiter.tryAcquireSync('k') as PermitDecision;
        expect(decision.allowed).toBe(held.length < 3);
        if (decision.allowed) held.push(decision);
      } else if (held.length > 0) {
        held.splice(Math.floor(Math.random() * held.length), 1)[0]?.permit?.release();
      }
      maxInFlight = Math.max(maxInFlight, limiter.inFlight('k'));
      expect(limiter.inFlight('k')).toBe(held.length);
    }
    expect(maxInFlight).toBe(3);
  });

  test('retryAfterMs comes from how long permits are held (one of N ends after about hold / N)', async () => {
    const limiter = createConcurrencyLimiter({ concurrency: 1 });
    const first = await limiter.acquire('k');
    expect((await limiter.acquire('k')).retryAfterMs).toBe(0); // nothing measured yet: Retry-After rounds up to 1 s
    await new Promise((resolve) => setTimeout(resolve, 100));
    first.permit?.release();
    expect((await limiter.acquire('k')).allowed).toBe(true);
    const refused = await limiter.acquire('k');
    expect(refused.retryAfterMs).toBeGreaterThan(10);
    expect(refused.retryAfterMs).toBeLessThan(100);
  });

  test('a closed limiter refuses with reason closed; permits still held may be released', async () => {
    const limiter = createConcurrencyLimiter({ concurrency: 1 });
    const held = await limiter.acquire('k');
    await limiter.close();
    expect((await limiter.acquire('other')).reason).toBe('closed');
    expect(limiter.tryAcquireSync('other')).toBeUndefined();
    expect(held.permit?.release()).toBe(true);
  });

  test('stores: a MemoryStore gives memory permits; a PermitStore is used as is; an unknown shared store is refused', async () => {
    expect((await createConcurrencyLimiter({ concurrency: 1, store: new MemoryStore() }).acquire('k')).allowed).toBe(true);
    const permits = new MemoryPermitStore();
    const one = createConcurrencyLimiter({ concurrency: 1, store: permits, name: 'x' });
    const two = createConcurrencyLimiter({ concurrency: 1, store: permits, name: 'x' });
    expect((await one.acquire('k')).allowed).toBe(true);
    expect((await two.acquire('k')).allowed).toBe(false); // one permit store, one namespace: shared
    const custom = { take: async () => ({ taken: true, tokens: 1 }), refund: async () => undefined, peek: async () => 1, reset: async () => undefined, close: async () => undefined } as Store;
    expect(() => createConcurrencyLimiter({ concurrency: 1, store: custom })).toThrow(FlowgateConfigError);
  });

  test('options are validated', () => {
    expect(() => createConcurrencyLimiter({ concurrency: 1, name: '' })).toThrow(/name/);
    expect(() => createConcurrencyLimiter({ concurrency: 1, max: 2 } as never)).toThrow(/max/);
    expect(() => createConcurrencyLimiter({} as never)).toThrow(/concurrency/);
  });
});
