// Reads the member nodes (`<root>/members/<id>`, one ephemeral node per process), tolerating fields an older flowgate does not write.

import { statTime } from '../stores/zookeeper/server-clock.js';
import { ZkCode, zkCode, type ZooKeeperSession } from '../stores/zookeeper/zookeeper-session.js';
import { childrenOf } from './bucket-scan.js';
import { mapConcurrently } from './concurrent-map.js';

/** What one member reports about one of its limiters. */
export interface MemberLimiterReport {
  /** Takes of this process waiting in the limiter's overflow queue. */
  readonly queued: number;
  /** How long the longest of them has waited, in ms. */
  readonly oldestWaitMs: number;
  /** The version of the published policy this process applies; null: its own options. */
  readonly policyVersion: number | null;
}

/** One live member (process). Fields the member did not write are null (or `{}`). */
export interface MemberInfo {
  /** The member node's name. */
  readonly id: string;
  readonly host: string | null;
  readonly pid: number | null;
  /** When it joined (ISO). */
  readonly since: string | null;
  /** 'shared': decides through ZooKeeper; 'degraded': deciding locally (ZooKeeper unavailable to it). */
  readonly state: 'shared' | 'degraded' | null;
  readonly degradedSince: string | null;
  /** How many times it went degraded since it joined, and when the last such episode began (ISO). */
  readonly degradedCount: number | null;
  readonly lastDegradedAt: string | null;
  /** When it last updated its node (ISO). */
  readonly at: string | null;
  readonly limiters: Readonly<Record<string, MemberLimiterReport>>;
}

/** The members, and the latest mtime of their nodes (ZooKeeper's clock was at least there). */
export interface MemberList {
  readonly members: MemberInfo[];
  readonly latestMtime: number;
}

/** Decodes a member node's JSON; anything missing or malformed becomes null. */
export function decodeMember(id: string, data: Buffer | undefined): MemberInfo {
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse((data ?? Buffer.alloc(0)).toString('utf8'));
    if (value !== null && typeof value === 'object') parsed = value as Record<string, unknown>;
  } catch {
    // not JSON: every field stays null
  }
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
  const state = parsed.state === 'shared' || parsed.state === 'degraded' ? parsed.state : null;
  return {
    id,
    host: text(parsed.host),
    pid: typeof parsed.pid === 'number' ? parsed.pid : null,
    since: text(parsed.since),
    state,
    degradedSince: text(parsed.degradedSince),
    degradedCount: typeof parsed.degradedCount === 'number' ? parsed.degradedCount : null,
    lastDegradedAt: text(parsed.lastDegradedAt),
    at: text(parsed.at),
    limiters: decodeLimiterReports(parsed.limiters),
  };
}

function decodeLimiterReports(value: unknown): Record<string, MemberLimiterReport> {
  const reports: Record<string, MemberLimiterReport> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return reports;
  const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0);
  for (const [name, report] of Object.entries(value as Record<string, unknown>)) {
    const r = (report ?? {}) as Record<string, unknown>;
    reports[name] = { queued: count(r.queued), oldestWaitMs: count(r.oldestWaitMs), policyVersion: typeof r.policyVersion === 'number' ? r.policyVersion : null };
  }
  return reports;
}

/** Reads every member node under `parent` (a member that leaves meanwhile is skipped), sorted by id. */
export async function readMembers(session: ZooKeeperSession, parent: string): Promise<MemberList> {
  const ids = (await childrenOf(session, parent)).sort();
  let latestMtime = Number.NEGATIVE_INFINITY;
  const members = await mapConcurrently(ids, 32, async (id) => {
    try {
      const { data, stat } = await session.getData(`${parent}/${id}`);
      latestMtime = Math.max(latestMtime, statTime(stat.mtime));
      return decodeMember(id, data);
    } catch (error) {
      if (zkCode(error) === ZkCode.NO_NODE) return undefined;
      throw error;
    }
  });
  return { members: members.filter((m): m is MemberInfo => m !== undefined), latestMtime };
}
