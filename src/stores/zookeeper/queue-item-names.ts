// Names of DistributedQueue item znodes: a protected-create prefix, the item's turn, when a delayed retry is due, ZooKeeper's sequence.

import { randomUUID } from 'node:crypto';
import { AGING_MS } from '../../priority.js';

/** Digits of the turn in a name: server milliseconds, zero-padded so that names sort as numbers. */
const TURN_DIGITS = 15;
const TURN_MAX = 10 ** TURN_DIGITS - 1;

/**
 * The turn of an item enqueued at server time `serverNow` with `priority`: its virtual enqueue time,
 * `AGING_MS` (1 s) earlier per priority level. Items are taken in turn order, so a priority-2 item
 * goes ahead of priority-0 items enqueued less than 2 s before it, and behind older ones: however
 * many high-priority items come, a low one waits at most its priority gap in seconds longer.
 */
export function itemTurn(serverNow: number, priority: number): number {
  return Math.min(TURN_MAX, Math.max(0, Math.round(serverNow - priority * AGING_MS)));
}

/**
 * A protected-create prefix carrying the item's turn: `_c_<uuid>-t<turn>-item-` (ZooKeeper appends
 * the sequence); a fresh UUID unless given. An item put back with a retry delay also carries the
 * server time it is due at, before its turn: `_c_<uuid>-d<due>-t<turn>-item-` (so that a flowgate
 * that knows no due times still reads its turn, and keeps it in line). Nothing else has a due
 * time: every other item is due at once, whatever its turn and whatever a process's clock
 * estimate says.
 */
export function itemPrefix(turn: number, uuid: string = randomUUID(), due?: number): string {
  const dueTag = due === undefined ? '' : `-d${String(Math.min(TURN_MAX, Math.max(0, Math.ceil(due)))).padStart(TURN_DIGITS, '0')}`;
  return `_c_${uuid}${dueTag}-t${String(turn).padStart(TURN_DIGITS, '0')}-item-`;
}

/** A due time has exactly TURN_DIGITS digits: the last group of a UUID (12 characters) cannot pass for one. */
const NAME = /(?:-d(\d{15}))?-t(\d+)-item-\d+$/;

/** The turn in an item's name (0 for names written before turns were, which therefore go first). */
export function turnOf(name: string): number {
  const match = NAME.exec(name);
  return match === null ? 0 : Number(match[2]);
}

/** The server time a delayed item is due at (0 for any other item: due at once). */
export function dueOf(name: string): number {
  const match = NAME.exec(name);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/** How long until the item `name` is due at server time `serverNow` (0 when due; only an item put back with a retry delay can be not due). */
export function msUntilDue(name: string, serverNow: number): number {
  return Math.max(0, dueOf(name) - serverNow);
}

/** Sorts item names by turn, then by ZooKeeper's 10-digit sequence suffix (creation order). */
export function sortByTurn(names: string[]): string[] {
  const keyed = names.map((name) => ({ name, turn: turnOf(name), seq: name.slice(-10) }));
  keyed.sort((a, b) => a.turn - b.turn || (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  return keyed.map((k) => k.name);
}
