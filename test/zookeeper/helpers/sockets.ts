// Which ZooKeeper server a process is connected to, read from the outside through /proc (no internals).

import fs from 'node:fs';

/**
 * The remote port of an ESTABLISHED TCP connection of process `pid` to one of `ports` on 127.0.0.1,
 * or undefined. Reads the socket inodes in /proc/<pid>/fd and matches them in /proc/net/tcp{,6}.
 */
export function connectedPort(pid: number, ports: number[]): number | undefined {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '01' || !inodes.has(cols[9] as string)) continue;
      const remotePort = parseInt((cols[2] as string).split(':')[1] as string, 16);
      if (ports.includes(remotePort)) return remotePort;
    }
  }
  return undefined;
}
