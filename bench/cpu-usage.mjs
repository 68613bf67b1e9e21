// CPU accounting on Linux from /proc: the machine's busy time, and one process's, to spot a starved server or a busy machine.
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every mainstream Linux build

/** Busy CPU seconds of the whole machine so far (all CPUs), or undefined off Linux. */
export function machineBusySeconds() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * User + system CPU seconds of process `pid` so far, or undefined when unreadable. With
 * `children`, also those of its children that have exited and been waited for (a wrk run).
 */
export function processCpuSeconds(pid, { children = false } = {}) {
  try {
    const fields = statFields(pid);
    // utime, stime (fields 14 and 15 of stat), then cutime, cstime (16 and 17)
    const own = Number(fields[11]) + Number(fields[12]);
    return (children ? own + Number(fields[13]) + Number(fields[14]) : own) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of the children of `pid` that have exited and been waited for (cutime, cstime). */
export function exitedChildrenCpuSeconds(pid = 'self') {
  const fields = statFields(pid);
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}
