// DistributedQueue worker processes (helpers/dq-worker.cjs) and the deliveries they report.

import { createHash } from 'node:crypto';
import { spawnChild, type Child } from './children.js';

export interface WorkerConfig {
  connect: string;
  root: string;
  name: string;
  queue?: Record<string, unknown>;
  store?: Record<string, unknown>;
}

/** One delivery (handler start) reported by a consumer. */
export interface Delivery {
  readonly p: string;
  readonly s: number;
  readonly id: string;
  /** DeliveryInfo.firstId: the id of the item's first copy. */
  readonly firstId: string;
  readonly attempt: number;
  readonly at: number;
  /** Which consumer process. */
  readonly consumer: string;
}

export interface Worker {
  readonly child: Child;
  readonly label: string;
  readonly deliveries: Delivery[];
  call<T = unknown>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
}

export interface ProduceResult {
  readonly ids: string[];
  readonly errors: Array<{ seq: number; name: string; code?: string; message: string }>;
  readonly errorCount: number;
  readonly ms: number;
}

export interface ErrorInfo {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
}

export async function startWorker(label: string, config: WorkerConfig): Promise<Worker> {
  const child = await spawnChild('dq-worker.cjs', label, config as unknown as Record<string, unknown>);
  const deliveries: Delivery[] = [];
  child.onEvent((event) => {
    if (event.event === 'deliveries') for (const d of event.list as Array<Omit<Delivery, 'consumer'>>) deliveries.push({ ...d, consumer: label });
  });
  return { child, label, deliveries, call: (cmd, args, timeoutMs) => child.call(cmd, args, timeoutMs) };
}

/** The 10-digit ZooKeeper sequence of an item id (`_c_<uuid>-item-<seq>`). */
export function sequenceOf(id: string): number {
  return Number(id.slice(-10));
}

/** Where a DistributedQueue keeps its znodes: `<root>/queues/<base64url(sha256(name))>/{items,claims,dead}`. */
export function queuePath(root: string, name: string, part: 'items' | 'claims' | 'dead'): string {
  return `${root}/queues/${createHash('sha256').update(name, 'utf8').digest('base64url')}/${part}`;
}
