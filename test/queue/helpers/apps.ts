// Starting the queue apps (helpers/queue-app.cjs) and reading their figures.

import { spawnChild, type Child } from './children.js';
import { waitFor } from '../../helpers/wait.js';

export interface AppConfig {
  connect: string;
  root: string;
  name: string;
  rate: number;
  interval: string;
  burst: number;
  maxSize: number;
  maxWait: string;
  tag?: boolean;
  store?: Record<string, unknown>;
}

export interface AppStats {
  readonly writes: number;
  readonly conflicts: number;
  readonly members: number;
  readonly available: boolean;
  readonly pid: number;
  readonly counts: { enqueued: number; dequeued: number; aborted: number; admitted: number; rejected: Record<string, number> };
  readonly reserveCalls: number;
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
  readonly storeEvents: Array<Record<string, unknown>>;
}

export interface Reservation {
  readonly id: number | null;
  readonly granted: boolean;
  readonly waitMs: number | null;
  readonly due: number | null;
  readonly book: string | null;
  readonly reason: string | null;
  readonly batch: number;
  readonly sent: number;
  readonly at: number;
  /** The app's estimate of ZooKeeper's clock minus its wall clock when the call returned (ms). */
  readonly serverAhead?: number | null;
}

export interface App {
  readonly child: Child;
  readonly port: number;
  readonly pid: number;
  stats(): Promise<AppStats>;
  reservations(): Promise<Reservation[]>;
}

export async function startApps(count: number, config: AppConfig, label: string): Promise<App[]> {
  const apps = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const child = await spawnChild('queue-app.cjs', `${label}-app${i}`, config as unknown as Record<string, unknown>);
      return {
        child,
        port: child.hello.port as number,
        pid: child.pid,
        stats: () => child.call<AppStats>('stats', {}, 10_000),
        reservations: () => child.call<Reservation[]>('reservations', {}, 10_000),
      };
    }),
  );
  // Every app sees all the others (membership sizes the lease shares).
  await waitFor(async () => (await Promise.all(apps.map((a) => a.stats()))).every((s) => s.available && s.members === count), 20_000, `${count} apps with ${count} members`, 100);
  return apps;
}

/** Sum of store.stats().writes over apps, from `before` to `after` (same app order). */
export function writesBetween(before: readonly AppStats[], after: readonly AppStats[]): { writes: number; conflicts: number } {
  let writes = 0;
  let conflicts = 0;
  after.forEach((s, i) => {
    writes += s.writes - (before[i] as AppStats).writes;
    conflicts += s.conflicts - (before[i] as AppStats).conflicts;
  });
  return { writes, conflicts };
}
