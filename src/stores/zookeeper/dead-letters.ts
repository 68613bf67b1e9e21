// A DistributedQueue's dead letters as znodes: listed, moved back to the queue, or removed (for the queue's methods and for the CLI).

import type { ACL } from 'node-zookeeper-client';
import { decodeEnvelope, envelopeJson, metaOf, stored } from './queue-envelope.js';
import { itemPrefix, itemTurn, sortByTurn } from './queue-item-names.js';
import { ZkCode, zkCode, type ZooKeeperSession } from './zookeeper-session.js';

const PERSISTENT_SEQUENTIAL = 2;

/** Where one queue's items and dead letters are, and how to write there. */
export interface DeadLetterPlace {
  readonly session: ZooKeeperSession;
  /** The parent znode of the queue's items. */
  readonly items: string;
  /** The parent znode of its dead letters. */
  readonly dead: string;
  readonly acls: ACL[] | undefined;
  /** ZooKeeper's clock now, as the caller estimates it: a requeued item's turn. */
  readonly serverNow: () => number;
}

/** An item delivered `maxAttempts` times without success, as kept in the dead-letter queue. */
export interface DeadLetter<T> {
  /** Its znode name in the dead letters: what `DistributedQueue.requeueDeadLetters` and `removeDeadLetters` take. */
  readonly id: string;
  /** The id of the item's first copy (see `DeliveryInfo.firstId`). */
  readonly firstId: string;
  readonly item: T;
  readonly attempts: number;
  /**
   * What its handler threw the last time: an Error's message, a string as it is, anything else as
   * `util.inspect` shows it; its first 4 KiB (UTF-8), followed by `… [cut: <n> bytes in all]` when longer.
   */
  readonly error: string;
}

/** The dead letters, oldest first; one removed between the listing and its read is left out. */
export async function listDeadLetters<T>(place: DeadLetterPlace): Promise<Array<DeadLetter<T>>> {
  const names = sortByTurn(await place.session.getChildren(place.dead));
  const letters: Array<DeadLetter<T>> = [];
  for (const name of names) {
    let data;
    try {
      ({ data } = await place.session.getData(`${place.dead}/${name}`));
    } catch (error) {
      // Requeued or removed since the listing.
      if (zkCode(error) === ZkCode.NO_NODE) continue;
      throw error;
    }
    const envelope = decodeEnvelope<T>(data);
    letters.push({ id: name, firstId: envelope.first ?? name, item: envelope.item, attempts: envelope.attempts, error: envelope.error ?? '' });
  }
  return letters;
}

/**
 * Moves the dead letter `name` back to the queue, as if enqueued now with its priority and its
 * deliveries counted from 0 again, in one multi (the item created, the dead letter removed at the
 * version read). Rejects with NO_NODE when it is gone.
 */
export async function requeueDeadLetter(place: DeadLetterPlace, name: string): Promise<void> {
  const { data, stat } = await place.session.getData(`${place.dead}/${name}`);
  const { item, priority, first } = decodeEnvelope(data);
  const fresh = stored(envelopeJson(JSON.stringify(item), metaOf({ attempts: 0, ...(priority !== undefined && { priority }), ...(first !== undefined && { first }) })));
  await place.session.transaction([
    { op: 'create', path: `${place.items}/${itemPrefix(itemTurn(place.serverNow(), priority ?? 0))}`, data: fresh, mode: PERSISTENT_SEQUENTIAL, acls: place.acls },
    { op: 'remove', path: `${place.dead}/${name}`, version: stat.version },
  ]);
}

/** Deletes the dead letter `name`. Rejects with NO_NODE when it is gone. */
export async function removeDeadLetter(place: DeadLetterPlace, name: string): Promise<void> {
  await place.session.remove(`${place.dead}/${name}`, -1);
}

/**
 * Runs `work` on each dead letter whose id is in `ids` (all when omitted), oldest first, through
 * `attempt` (a retry policy; once by default); resolves with how many it did, skipping those gone.
 */
export async function eachDeadLetter(
  place: DeadLetterPlace,
  ids: readonly string[] | undefined,
  work: (name: string) => Promise<unknown>,
  attempt: <R>(call: () => Promise<R>) => Promise<R> = (call) => call(),
): Promise<number> {
  const present = sortByTurn(await attempt(() => place.session.getChildren(place.dead)));
  const wanted = ids === undefined ? undefined : new Set(ids);
  let done = 0;
  for (const name of present) {
    if (wanted !== undefined && !wanted.has(name)) continue;
    try {
      await attempt(() => work(name));
      done++;
    } catch (error) {
      if (zkCode(error) !== ZkCode.NO_NODE) throw error;
    }
  }
  return done;
}
