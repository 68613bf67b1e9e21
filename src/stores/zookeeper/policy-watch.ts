// Keeps one ZooKeeper watch per published policy that limiters of this process follow, and tells them of changes.

import { samePolicy, type VersionedPolicy } from '../../policy-update.js';
import type { PolicyRegistry } from './policy-registry.js';
import { WatchLoop } from './watch-loop.js';

/**
 * Follows the published policies of the limiters of this process: one `getData` watch per limiter
 * name (however many limiters share it), re-armed after it fires, after a failed read (every
 * second) and after a new session (which has no watches). A listener hears the policy now and on
 * every change; it never hears the same policy twice in a row.
 */
export class PolicyWatch {
  private readonly loop = new WatchLoop<VersionedPolicy | undefined>({ retryMs: 1000, same: samePolicy, replayLast: true });

  constructor(private readonly registry: PolicyRegistry) {}

  /** Starts following `name` for `listener`; returns a function that stops it. */
  watch(name: string, listener: (policy: VersionedPolicy | undefined) => void): () => void {
    return this.loop.watch(name, (fired) => this.read(name, fired), listener);
  }

  /**
   * Hands a policy this process just published to its listeners without waiting for the watch,
   * unless the watch already delivered a later version (another process wrote after this one, and
   * the watch read that before this write's answer came back): handing this one over then would
   * take the limiters back to it, and no later watch event would correct them.
   */
  published(name: string, policy: VersionedPolicy): void {
    const known = this.loop.last(name);
    if (known !== undefined && known.value !== undefined && known.value.version > policy.version) return;
    this.loop.deliver(name, policy);
  }

  /** Arms every watch again: a new session has none of the old one's. */
  rearm(): void {
    this.loop.rearm();
  }

  close(): void {
    this.loop.close();
  }

  private async read(name: string, fired: () => void): Promise<VersionedPolicy | undefined> {
    const record = await this.registry.get(name, fired);
    if (record === undefined) return undefined;
    return { rate: record.rate, intervalMs: record.intervalMs, burst: record.burst, version: record.version, ...(record.queue !== undefined && { queue: record.queue }) };
  }
}
