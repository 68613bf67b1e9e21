// Deletes permit znodes whose every holder and waiter is a process that is gone (killed, or its session expired).

import type { WriteCounter } from './bucket-cas.js';
import { decodePermits, memberOf } from './permit-codec.js';
import { ShardJanitor } from './shard-janitor.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/**
 * The janitor of permit znodes. A process that stops cleanly gives its permits back and the znode
 * goes when nobody holds or waits; a killed one leaves its entry, which the next write of that key
 * drops. For keys nobody uses again, this deletes the znode once the member node of every holder
 * and waiter is gone (an entry of a live process, even one missing from a stale member list, keeps it).
 */
export function permitJanitor(session: ZooKeeperSession, permitsRoot: string, membersPath: string, counter: WriteCounter): ShardJanitor {
  return new ShardJanitor(
    session,
    permitsRoot,
    async (_path, data) => {
      const { held, waiting } = decodePermits(data);
      const members = new Set([...Object.keys(held), ...waiting].map(memberOf));
      for (const member of members) if ((await session.exists(`${membersPath}/${member}`)) !== null) return false;
      return true;
    },
    counter,
  );
}
