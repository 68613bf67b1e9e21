// Picks the permit store of a concurrency limit from the token-bucket store it is given: memory, or a registered shared one.

import { FlowgateConfigError } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import type { Store } from '../store.js';
import { MemoryPermitStore } from './memory-permit-store.js';
import type { PermitStore } from './permit-store.js';
import { hasBrand } from '../brand.js';

/** Makes the permit store for a shared store it recognises, or returns `undefined`. */
export type PermitStoreFactory = (store: Store) => PermitStore | undefined;

const factories: PermitStoreFactory[] = [];

/**
 * Registers how a shared store's permits are kept. The ZooKeeper permit store registers itself
 * when loaded, so that the HTTP adapters need not load the ZooKeeper client themselves.
 * @internal
 */
export function registerPermitStoreFactory(factory: PermitStoreFactory): void {
  factories.push(factory);
}

/**
 * The permit store that goes with `store`: a new {@link MemoryPermitStore} for a `MemoryStore`, a
 * registered shared permit store (ZooKeeper) for a shared store. Any other store is refused rather
 * than silently counted per process.
 */
export function permitStoreFor(store: Store): PermitStore {
  if (hasBrand<MemoryStore>(store, 'MemoryStore')) return new MemoryPermitStore();
  for (const factory of factories) {
    const permits = factory(store);
    if (permits !== undefined) return permits;
  }
  throw new FlowgateConfigError(
    'store',
    store,
    'has no permit store for `concurrency` (only MemoryStore and ZooKeeperStore have one): pass a PermitStore with createConcurrencyLimiter({ concurrency, store })',
  );
}
