// CPU used by groups of processes (apps, load generator, ZooKeeper, Redis) and by the rest of the machine over one measurement.
import { machineBusySeconds, processCpuSeconds } from '../cpu-usage.mjs';

const sumCpu = (pids, children) => pids.reduce((sum, pid) => sum + (processCpuSeconds(pid, { children }) ?? 0), 0);

/**
 * Starts measuring: `groups` maps a name to PIDs; the groups named in `withChildren` also count
 * their processes' exited children (the loader's wrk runs). `stop()` returns cores used per group over the
 * wall time since start (1 = one core busy all along), `other` = the machine's busy time outside
 * every group (other processes, kernel networking), and `seconds`.
 */
export function startCpuMeter(groups, withChildren = []) {
  const t0 = performance.now();
  const machine0 = machineBusySeconds();
  const before = Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, sumCpu(pids, withChildren.includes(name))]));
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const machine = machineBusySeconds() - machine0;
      const cores = {};
      let inGroups = 0;
      for (const [name, pids] of Object.entries(groups)) {
        const used = sumCpu(pids, withChildren.includes(name)) - before[name];
        inGroups += used;
        cores[name] = used / seconds;
      }
      return { seconds, cores, other: Number.isNaN(machine) ? undefined : Math.max(0, machine - inGroups) / seconds };
    },
  };
}
