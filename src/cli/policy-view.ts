// A published policy as the CLI shows it: a stable JSON shape, a text block, and a table row.

import type { PolicyRecord } from '../stores/zookeeper/policy-registry.js';
import { formatInterval, formatMs, formatNumber } from './text-table.js';

/** A published policy in the CLI's JSON (`policy get --json`, `status --json`); field names are stable. */
export interface PolicyJson {
  readonly name: string;
  /** ZooKeeper's data version of the policy node: 0 when first published, +1 per change. */
  readonly version: number;
  readonly rate: number;
  readonly intervalMs: number;
  readonly burst: number;
  /** Queue bounds; false: queuing off; null: each process keeps its own queue option. */
  readonly queue: { readonly maxSize: number; readonly maxWaitMs: number } | false | null;
  readonly updatedAt: string;
  /** Who wrote it: host:pid. */
  readonly by: string;
}

/** The JSON form of a policy record. */
export function policyJson(record: PolicyRecord): PolicyJson {
  return { name: record.name, version: record.version, rate: record.rate, intervalMs: record.intervalMs, burst: record.burst, queue: record.queue ?? null, updatedAt: record.updatedAt, by: record.by };
}

/** `100 per 1s` */
export function describeRate(rate: number, intervalMs: number): string {
  return `${formatNumber(rate)} per ${formatInterval(intervalMs)}`;
}

/** `maxSize 50, maxWait 5.0 s`, `off`, or `each process's own option`. */
export function describeQueue(queue: PolicyJson['queue']): string {
  if (queue === null) return "each process's own option";
  if (queue === false) return 'off';
  return `maxSize ${queue.maxSize}, maxWait ${formatMs(queue.maxWaitMs)}`;
}

/** The policy as aligned `label  value` lines. */
export function renderPolicy(policy: PolicyJson): string {
  return [
    ['limiter', policy.name],
    ['version', String(policy.version)],
    ['rate', describeRate(policy.rate, policy.intervalMs)],
    ['burst', String(policy.burst)],
    ['queue', describeQueue(policy.queue)],
    ['updated', `${policy.updatedAt} by ${policy.by}`],
  ]
    .map(([label, value]) => `${(label as string).padEnd(8)} ${value as string}`)
    .join('\n');
}
