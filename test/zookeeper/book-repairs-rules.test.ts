// How BookRepairs settles a write whose answer never came, from what the books it reads show of its
// booking mark (pure bookkeeping: the store's compare-and-set is stood in for by a function).

import { BookRepairs, withMark, type BookedTurn } from '../../src/stores/zookeeper/book-repairs.js';
import { ZooKeeperUnavailableError } from '../../src/stores/zookeeper/zookeeper-session.js';
import { bucketPolicy } from '../../src/policy.js';
import { EMPTY_BOOK, type Book } from '../../src/reservation.js';
import type { BucketChange, BucketView } from '../../src/stores/zookeeper/bucket-cas.js';

const policy = bucketPolicy('rules', 10, 1000, 5);
const TAG = 'me';
const turn = (entry: number): BookedTurn => ({ cost: 1, turn: { entry, before: 0 } });
/** A book of one entry per id, one waiter each, far from due, with marks `w`. */
const bookOf = (ids: number[], w?: Record<string, number>): Book => ({
  seq: Math.max(0, ...ids),
  entries: ids.map((id) => ({ id, a: 0, count: 1, owed: 1 })),
  ...(w !== undefined && { w }),
});

/** Repairs whose every write is answered by `answer` (the change it was asked to write, or a lost reply). */
function repairsWith(answer: (change: BucketChange | undefined) => 'written' | 'lost'): { repairs: BookRepairs; written: Array<BucketChange | undefined> } {
  const written: Array<BucketChange | undefined> = [];
  let marks = 100;
  const view: BucketView = { tokens: -3, book: bookOf([1, 2, 3]), serverNow: 0 };
  const repairs = new BookRepairs({
    tag: TAG,
    nextMark: () => ++marks,
    available: () => true,
    update: async (_policy, _key, change) => {
      const decided = change(view);
      written.push(decided);
      if (answer(decided) === 'lost') throw new ZooKeeperUnavailableError('reply lost');
      return { before: view.tokens, after: decided?.tokens ?? view.tokens, wrote: decided !== undefined, version: 1, serverNow: 0, book: decided?.book ?? view.book, zxid: 1 };
    },
    unknownOutcome: (error) => error instanceof ZooKeeperUnavailableError,
    failed: () => undefined,
    now: () => 0,
  });
  return { repairs, written };
}

describe('a booking whose reply was lost', () => {
  test('its waiters come out when the book shows its mark; with a higher mark (a later write read it first), nothing is done', () => {
    // ZooKeeper away: nothing is sent, only what observe() settles is looked at.
    const open = new BookRepairs({ tag: TAG, nextMark: () => 1, available: () => false, update: async () => Promise.reject(new Error('unused')), unknownOutcome: () => true, failed: () => undefined, now: () => 0 });
    open.unsure(policy, 'landed', 7, [turn(1), turn(2)]);
    open.observe(policy, 'landed', bookOf([1, 2], { [TAG]: 7 }));
    expect(open.pendingOf(policy, 'landed')).toEqual({ cancels: 2, unsure: 0 });
    open.unsure(policy, 'never', 7, [turn(1)]);
    open.observe(policy, 'never', bookOf([1], { [TAG]: 9 }));
    expect(open.pendingOf(policy, 'never')).toEqual({ cancels: 0, unsure: 0 });
    open.unsure(policy, 'not-yet', 7, [turn(1)]);
    open.observe(policy, 'not-yet', bookOf([1], { [TAG]: 5 }));
    open.observe(policy, 'not-yet', EMPTY_BOOK);
    expect(open.pendingOf(policy, 'not-yet')).toEqual({ cancels: 0, unsure: 1 });
    open.close();
  });
});

describe('a write of cancels whose reply was lost', () => {
  test('is made again only once a higher mark of its own shows it never landed; a read that found no mark of its own makes that proof void', async () => {
    const { repairs, written } = repairsWith((change) => ((change?.book?.w?.[TAG] ?? 0) === 101 ? 'lost' : 'written'));
    // The first flush (mark 101) is lost: its cancel becomes an unsure write.
    await repairs.cancel(policy, 'k', turn(1));
    expect(written.at(-1)?.book?.w?.[TAG]).toBe(101);
    expect(repairs.pendingOf(policy, 'k')).toEqual({ cancels: 0, unsure: 1 });

    // A later read with a higher mark of its own (103, written after a read without 101): never landed, made again.
    repairs.observe(policy, 'k', bookOf([1, 2, 3], { [TAG]: 103 }));
    expect(repairs.pendingOf(policy, 'k')).toEqual({ cancels: 1, unsure: 0 });
    repairs.close();

    // The same, but a read in between found no mark of its own (pushed out by 32 other writers): not made again.
    const blind = repairsWith((change) => ((change?.book?.w?.[TAG] ?? 0) === 101 ? 'lost' : 'written'));
    await blind.repairs.cancel(policy, 'k', turn(1));
    blind.repairs.observe(policy, 'k', bookOf([1, 2, 3], { other: 5 }));
    blind.repairs.observe(policy, 'k', bookOf([1, 2, 3], { [TAG]: 103 }));
    expect(blind.repairs.pendingOf(policy, 'k')).toEqual({ cancels: 0, unsure: 1 });
    // Its own number: it landed, done.
    blind.repairs.observe(policy, 'k', bookOf([2, 3], { [TAG]: 101 }));
    expect(blind.repairs.pendingOf(policy, 'k')).toEqual({ cancels: 0, unsure: 0 });
    blind.repairs.close();
  });

  test('a mark is moved to the end of the marks, and the book keeps the 32 latest writers', () => {
    let book: Book = EMPTY_BOOK;
    for (let i = 0; i < 40; i++) book = withMark(book, `p${i}`, i);
    book = withMark(book, 'p10', 99);
    expect(Object.keys(book.w ?? {})).toHaveLength(32);
    expect(Object.keys(book.w ?? {}).at(-1)).toBe('p10');
    expect(book.w?.p0).toBeUndefined();
  });
});
