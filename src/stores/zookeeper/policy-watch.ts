// Keeps one ZooKeeper watch per published policy that limiters of this process follow, and tells them of changes.

import { samePolicy, type VersionedPolicy } from '../../policy-update.js';
import type { PolicyRegistry } from './policy-registry.js';

interface Watched {
  readonly listeners: Set<(policy: VersionedPolicy | undefined) => void>;
  /** The policy last delivered (undefined: none published, or not read yet). */
  last: VersionedPolicy | undefined;
  /** Bumped on every arm: a watcher from an older arm is stale and does nothing when it fires. */
  generation: number;
  retry: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Follows the published policies of the limiters of this process: one `getData` watch per limiter
 * name (however many limiters share it), re-armed after it fires, after a failed read (every
 * second) and after a new session (which has no watches). A listener hears the policy now and on
 * every change; it never hears the same policy twice in a row.
 */
export class PolicyWatch {
  private readonly watched = new Map<string, Watched>();
  private closed = false;

  constructor(private readonly registry: PolicyRegistry) {}

  /** Starts following `name` for `listener`; returns a function that stops it. */
  watch(name: string, listener: (policy: VersionedPolicy | undefined) => void): () => void {
    let entry = this.watched.get(name);
    if (entry === undefined) {
      entry = { listeners: new Set(), last: undefined, generation: 0, retry: undefined };
      this.watched.set(name, entry);
      void this.arm(name, entry);
    } else if (entry.last !== undefined) {
      const known = entry.last;
      queueMicrotask(() => listener(known));
    }
    entry.listeners.add(listener);
    const watched = entry;
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.watched.get(name) === watched) {
        this.watched.delete(name);
        watched.generation++;
        if (watched.retry !== undefined) clearTimeout(watched.retry);
      }
    };
  }

  /** Hands a policy this process just published to its listeners without waiting for the watch. */
  published(name: string, policy: VersionedPolicy): void {
    const entry = this.watched.get(name);
    if (entry !== undefined) this.deliver(entry, policy);
  }

  /** Arms every watch again: a new session has none of the old one's. */
  rearm(): void {
    for (const [name, entry] of this.watched) void this.arm(name, entry);
  }

  close(): void {
    this.closed = true;
    for (const entry of this.watched.values()) {
      entry.generation++;
      if (entry.retry !== undefined) clearTimeout(entry.retry);
    }
    this.watched.clear();
  }

  private async arm(name: string, entry: Watched): Promise<void> {
    if (this.closed || this.watched.get(name) !== entry) return;
    const generation = ++entry.generation;
    if (entry.retry !== undefined) clearTimeout(entry.retry);
    entry.retry = undefined;
    const fired = (): void => {
      if (entry.generation === generation) void this.arm(name, entry);
    };
    try {
      const record = await this.registry.get(name, fired);
      if (entry.generation !== generation) return;
      this.deliver(entry, record === undefined ? undefined : { rate: record.rate, intervalMs: record.intervalMs, burst: record.burst, version: record.version, ...(record.queue !== undefined && { queue: record.queue }) });
    } catch {
      if (entry.generation !== generation || this.closed) return;
      entry.retry = setTimeout(() => void this.arm(name, entry), 1000);
      entry.retry.unref();
    }
  }

  private deliver(entry: Watched, policy: VersionedPolicy | undefined): void {
    if (samePolicy(entry.last, policy)) return;
    entry.last = policy;
    for (const listener of [...entry.listeners]) listener(policy);
  }
}
