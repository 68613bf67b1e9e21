// What this process tells the cluster about itself: its member node's details and each limiter's catalog entry.

import type { ACL } from 'node-zookeeper-client';
import type { LimiterProbe } from '../../store.js';
import type { Membership } from './membership.js';
import type { ZooKeeperSession } from './zookeeper-session.js';
import type { ZnodePaths } from './znode-paths.js';

/** How often the member node is rewritten at most while nothing changes (its `at` shows it is alive). */
const REFRESH_MS = 10_000;
/** The shortest gap between two rewrites of the member node. */
const MIN_GAP_MS = 1000;

/**
 * Reports this process to operators (`flowgate status`):
 * - its member node carries `state` ('shared' | 'degraded'), `degradedSince`, `degradedCount`,
 *   `lastDegradedAt` and, per limiter, `{ queued, oldestWaitMs, policyVersion }`; rewritten when
 *   that changes (at most once a second) and every 10 s;
 * - each limiter's node `<root>/buckets/<hash(name)>` holds `{ v: 1, name, rate, intervalMs, burst,
 *   strict }`, written when this process first uses the limiter and when its figures change, so
 *   that hashed node names can be told by name.
 */
export class MemberReport {
  private readonly probes = new Map<string, Set<() => LimiterProbe>>();
  private readonly catalogued = new Map<string, string>();
  private lastJson = '';
  private lastWrite = Number.NEGATIVE_INFINITY;
  private degradedSince: string | null = null;
  private lastDegradedAt: string | null = null;
  private degradedCount = 0;
  private writing = false;

  constructor(
    private readonly session: ZooKeeperSession,
    private readonly paths: ZnodePaths,
    private readonly membership: Membership,
    private readonly acls: ACL[] | undefined,
  ) {}

  /** Adds a limiter's probe; returns a function that removes it. */
  attach(name: string, probe: () => LimiterProbe): () => void {
    let set = this.probes.get(name);
    if (set === undefined) {
      set = new Set();
      this.probes.set(name, set);
    }
    set.add(probe);
    const probes = set;
    return () => {
      probes.delete(probe);
      if (probes.size === 0 && this.probes.get(name) === probes) this.probes.delete(name);
    };
  }

  /** Notes a change of state (degraded / shared again), reported at the next {@link report}. */
  noteState(degraded: boolean): void {
    if (degraded && this.degradedSince === null) {
      this.degradedSince = new Date().toISOString();
      this.degradedCount++;
    } else if (!degraded && this.degradedSince !== null) {
      this.lastDegradedAt = this.degradedSince;
      this.degradedSince = null;
    }
  }

  /** Rewrites the member node when its details changed (or every 10 s), and catalogues new limiters. */
  async report(now: number): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      const limiters: Record<string, { queued: number; oldestWaitMs: number; policyVersion: number | null }> = {};
      for (const [name, probes] of this.probes) {
        let queued = 0;
        let oldestWaitMs = 0;
        let policyVersion: number | null = null;
        for (const probe of probes) {
          const p = probe();
          queued += p.queued;
          oldestWaitMs = Math.max(oldestWaitMs, p.oldestWaitMs);
          policyVersion = p.policyVersion ?? policyVersion;
          await this.catalogue(name, p);
        }
        // Rounded, so that a waiting queue does not rewrite the node on every pass.
        limiters[name] = { queued, oldestWaitMs: Math.round(oldestWaitMs / 1000) * 1000, policyVersion };
      }
      const details = {
        state: this.degradedSince === null ? 'shared' : 'degraded',
        degradedSince: this.degradedSince,
        degradedCount: this.degradedCount,
        lastDegradedAt: this.lastDegradedAt,
        limiters,
      };
      const json = JSON.stringify(details);
      if (now - this.lastWrite < MIN_GAP_MS || (json === this.lastJson && now - this.lastWrite < REFRESH_MS)) return;
      await this.membership.publish(details);
      this.lastJson = json;
      this.lastWrite = now;
    } finally {
      this.writing = false;
    }
  }

  /** A new session re-created the member node: its details are written again at the next report. */
  reset(): void {
    this.lastJson = '';
    this.catalogued.clear();
  }

  private async catalogue(name: string, probe: LimiterProbe): Promise<void> {
    const json = JSON.stringify({ v: 1, name, rate: probe.rate, intervalMs: probe.intervalMs, burst: probe.burst, strict: probe.strict });
    if (this.catalogued.get(name) === json) return;
    const path = this.paths.limiter(name);
    await this.session.mkdirp(path, this.acls);
    await this.session.setData(path, Buffer.from(json), -1);
    this.catalogued.set(name, json);
  }
}
