// DistributedQueue item names: the turn, and the due time of a delayed retry, read back from a name; a
// flowgate of the release before (which knows no due times) still reads a delayed item's turn.

import { dueOf, itemPrefix, msUntilDue, sortByTurn, turnOf } from '../../src/stores/zookeeper/queue-item-names.js';

/** The turn regex of the release before this one (ff34448), which knows no due times. */
const OLD_TURN = /-t(\d+)-item-\d+$/;

const UUID = 'd1234567-89ab-4cde-8f01-d23456789012';

test('a plain item has a turn and no due time; a delayed one both, and the release before still reads its turn', () => {
  const plain = `${itemPrefix(1_795_731_684_520, UUID)}0000000007`;
  const delayed = `${itemPrefix(1_795_731_689_520, UUID, 1_795_731_689_520.4)}0000000008`;
  expect(plain).toBe(`_c_${UUID}-t001795731684520-item-0000000007`);
  expect(delayed).toBe(`_c_${UUID}-d001795731689521-t001795731689520-item-0000000008`);
  expect([turnOf(plain), dueOf(plain)]).toEqual([1_795_731_684_520, 0]);
  expect([turnOf(delayed), dueOf(delayed)]).toEqual([1_795_731_689_520, 1_795_731_689_521]);
  expect(Number(OLD_TURN.exec(delayed)?.[1])).toBe(1_795_731_689_520);
  // A UUID whose last group looks like a due tag is not read as one (a due time has 15 digits).
  const lookalike = `_c_00000000-0000-4000-8000-d12345678901-t001795731684520-item-0000000009`;
  expect([turnOf(lookalike), dueOf(lookalike)]).toEqual([1_795_731_684_520, 0]);
});

test('only a delayed item can be not due; names sort by turn, then sequence', () => {
  const now = 1_795_731_690_000;
  const early = `${itemPrefix(now - 5_000, UUID)}0000000003`;
  const negativePriority = `${itemPrefix(now + 60_000, UUID)}0000000001`;
  const delayed = `${itemPrefix(now + 2_000, UUID, now + 2_000)}0000000002`;
  expect(msUntilDue(early, now)).toBe(0);
  expect(msUntilDue(negativePriority, now)).toBe(0);
  expect(msUntilDue(delayed, now)).toBe(2_000);
  expect(sortByTurn([negativePriority, delayed, early])).toEqual([early, delayed, negativePriority]);
});
