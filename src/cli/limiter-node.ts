// Reads a limiter node (`<root>/buckets/<hash>`): the limiter's name and options as its processes wrote them, if they did.

import { ZkCode, zkCode, type ZooKeeperSession } from '../stores/zookeeper/zookeeper-session.js';

/** What a limiter node may say about its limiter; each field is absent when the node does not hold it. */
export interface LimiterNodeData {
  readonly name?: string;
  readonly rate?: number;
  readonly intervalMs?: number;
  readonly burst?: number;
  readonly strict?: boolean;
}

/**
 * Decodes `{"v":1,"name":"api","rate":100,"intervalMs":1000,"burst":100,"strict":false}`, keeping
 * only well-formed fields: an empty node (or one written by an older flowgate) gives `{}`.
 */
export function decodeLimiterNode(data: Buffer | undefined): LimiterNodeData {
  let parsed: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse((data ?? Buffer.alloc(0)).toString('utf8'));
    if (value === null || typeof value !== 'object') return {};
    parsed = value as Record<string, unknown>;
  } catch {
    return {};
  }
  const positive = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined);
  return {
    ...(typeof parsed.name === 'string' && { name: parsed.name }),
    ...(positive(parsed.rate) !== undefined && { rate: positive(parsed.rate) }),
    ...(positive(parsed.intervalMs) !== undefined && { intervalMs: positive(parsed.intervalMs) }),
    ...(positive(parsed.burst) !== undefined && { burst: positive(parsed.burst) }),
    ...(typeof parsed.strict === 'boolean' && { strict: parsed.strict }),
  };
}

/** The data of the limiter node at `path`, or `undefined` when there is no such node. */
export async function readLimiterNode(session: ZooKeeperSession, path: string): Promise<LimiterNodeData | undefined> {
  try {
    return decodeLimiterNode((await session.getData(path)).data);
  } catch (error) {
    if (zkCode(error) === ZkCode.NO_NODE) return undefined;
    throw error;
  }
}
