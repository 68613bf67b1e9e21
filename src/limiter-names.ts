// One name, one policy on a shared store: limiters of one name share their buckets there, so they must agree on the policy.

import { FlowgateConfigError } from './errors.js';
import type { BucketPolicy } from './policy.js';

/** One registry for every copy of the package in the process (CommonJS and ESM share stores). */
const REGISTRY = Symbol.for('flowgate.limiter-names');

function registry(): WeakMap<object, Map<string, Set<BucketPolicy>>> {
  const global = globalThis as { [REGISTRY]?: WeakMap<object, Map<string, Set<BucketPolicy>>> };
  global[REGISTRY] ??= new WeakMap();
  return global[REGISTRY];
}

function describe(policy: BucketPolicy): string {
  return `rate ${policy.rate} per ${policy.intervalMs} ms, burst ${policy.burst}${policy.strict ? ', strict' : ''}`;
}

/**
 * Registers a limiter's configured `policy` under its name on `store`, and returns how to release
 * it (at close). Throws {@link FlowgateConfigError} when another open limiter of the same name on
 * the same store was configured with another policy: the two would share buckets, and the smaller
 * limit would decide for both (a login limit of 5 a minute would cap every page). Limiters with
 * the same policy may share a name (two app instances in one process); a live policy change
 * applies to all of them alike.
 */
export function claimLimiterName(store: object, policy: BucketPolicy): () => void {
  const names = registry();
  let byName = names.get(store);
  if (byName === undefined) {
    byName = new Map();
    names.set(store, byName);
  }
  const { name } = policy;
  const holders = byName.get(name) ?? new Set<BucketPolicy>();
  for (const theirs of holders) {
    if (theirs.rate !== policy.rate || theirs.intervalMs !== policy.intervalMs || theirs.burst !== policy.burst || theirs.strict !== policy.strict) {
      throw new FlowgateConfigError(
        'name',
        name,
        `is used on this store by another limiter with another policy (${describe(theirs)}; this one: ${describe(policy)}); limiters of one name share their buckets: give each its own name`,
      );
    }
  }
  // Its own object per limiter, released by identity.
  const claim = { ...policy };
  holders.add(claim);
  byName.set(name, holders);
  const owner = byName;
  return () => {
    holders.delete(claim);
    if (holders.size === 0 && owner.get(name) === holders) owner.delete(name);
  };
}
