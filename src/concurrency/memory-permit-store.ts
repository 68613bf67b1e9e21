// The default permit store: exact counts of requests in flight per key, in this process.

import type { ConcurrencyPolicy, PermitResult, PermitStore } from './permit-store.js';

/**
 * Counts the requests in flight per (policy name, key) in one process: exact, synchronous, and
 * a key with nothing in flight holds no memory.
 */
export class MemoryPermitStore implements PermitStore {
  private readonly counts = new Map<string, number>();

  /** {@inheritDoc PermitStore.acquireSync} */
  acquireSync(policy: ConcurrencyPolicy, key: string): PermitResult {
    const id = `${policy.name}\u0000${key}`;
    const inFlight = this.counts.get(id) ?? 0;
    if (inFlight >= policy.max) return { acquired: false, remaining: 0 };
    this.counts.set(id, inFlight + 1);
    return { acquired: true, remaining: policy.max - inFlight - 1 };
  }

  /** {@inheritDoc PermitStore.acquire} */
  acquire(policy: ConcurrencyPolicy, key: string): Promise<PermitResult> {
    return Promise.resolve(this.acquireSync(policy, key));
  }

  /** {@inheritDoc PermitStore.release} */
  release(policy: ConcurrencyPolicy, key: string): void {
    const id = `${policy.name}\u0000${key}`;
    const inFlight = this.counts.get(id) ?? 0;
    if (inFlight <= 1) this.counts.delete(id);
    else this.counts.set(id, inFlight - 1);
  }

  /** {@inheritDoc PermitStore.inFlight} */
  inFlight(policy: ConcurrencyPolicy, key: string): number {
    return this.counts.get(`${policy.name}\u0000${key}`) ?? 0;
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}
