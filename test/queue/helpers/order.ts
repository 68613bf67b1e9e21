// Order analysis of the cluster-wide overflow queue: admissions, and inversions of arrival order within a process
// (the cross-process figure is the cluster benchmark's: bench/cluster/order.mjs).

/** One admitted request, as the apps reported it. */
export interface Admission {
  readonly id: number;
  readonly pid: number;
  /** Wall-clock ms at which the app saw the request (before the rate limiter). */
  readonly arrivedAt: number;
  /** Wall-clock ms at which the app's handler ran (after the rate limiter admitted it). */
  readonly admittedAt: number;
  /** This process's admission counter: its exact local admission order, free of timing noise. */
  readonly seq: number;
  /** Whether it waited in the queue (it got a reservation with a wait > 0). */
  readonly enqueued: boolean;
  /** Its turn on ZooKeeper's clock (the reservation's due time), when enqueued. */
  readonly due: number | undefined;
}

/** Within each process: pairs admitted (by its own counter) in the reverse of their arrival order. */
export function localInversions(items: readonly Admission[]): number {
  let count = 0;
  const byPid = new Map<number, Admission[]>();
  for (const item of items) byPid.set(item.pid, [...(byPid.get(item.pid) ?? []), item]);
  for (const list of byPid.values()) {
    const sorted = [...list].sort((x, y) => x.arrivedAt - y.arrivedAt);
    for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) if ((sorted[i] as Admission).seq > (sorted[j] as Admission).seq) count++;
  }
  return count;
}
