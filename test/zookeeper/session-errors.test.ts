// Which ZooKeeper errors count as "unavailable" (retried, waited out) and which are answers, on the
// client's own exception objects; and which op of a failed multi ZooKeeper blamed.

import zookeeper from 'node-zookeeper-client';
import { BUILT, ensureBuilt } from '../helpers/ensure-built.js';
import { failedOpIndex, isUnavailable, ZooKeeperUnavailableError } from '../../src/stores/zookeeper/zookeeper-session.js';

const exception = (code: number): Error => (zookeeper.Exception as unknown as { create(code: number): Error }).create(code);
/** node-zookeeper-client 1.1 has no SESSION_MOVED (-118) exception: an error with ZooKeeper's getCode() shape stands in. */
const sessionMoved = Object.assign(new Error('SESSION_MOVED'), { getCode: () => -118 });

test('lost connection or session, operation timeout, session moved and a call timeout are unavailable (as Curator retries them)', () => {
  for (const code of [zookeeper.Exception.CONNECTION_LOSS, zookeeper.Exception.SESSION_EXPIRED, zookeeper.Exception.OPERATION_TIMEOUT]) {
    expect({ code, unavailable: isUnavailable(exception(code)) }).toEqual({ code, unavailable: true });
  }
  expect(isUnavailable(sessionMoved)).toBe(true);
  expect(isUnavailable(new ZooKeeperUnavailableError('no answer within 1000 ms'))).toBe(true);
});

test('answers are not unavailable: no node, node exists, bad version, no auth, not empty, a plain error', () => {
  for (const code of [zookeeper.Exception.NO_NODE, zookeeper.Exception.NODE_EXISTS, zookeeper.Exception.BAD_VERSION, zookeeper.Exception.NO_AUTH, zookeeper.Exception.NOT_EMPTY]) {
    expect({ code, unavailable: isUnavailable(exception(code)) }).toEqual({ code, unavailable: false });
  }
  expect(isUnavailable(new Error('boom'))).toBe(false);
});

test('failedOpIndex reads the index a failed multi carries, and is undefined otherwise', () => {
  const error = Object.assign(exception(zookeeper.Exception.NO_NODE), { opIndex: 1 });
  expect(failedOpIndex(error)).toBe(1);
  expect(failedOpIndex(exception(zookeeper.Exception.NO_NODE))).toBeUndefined();
  expect(failedOpIndex(undefined)).toBeUndefined();
});

test("an unavailable error from the package's other copy (CommonJS beside ESM) is unavailable too: checked by its code, not its class", async () => {
  await ensureBuilt();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const otherCopy = require(BUILT) as { ZooKeeperUnavailableError: new (message: string) => Error };
  const foreign = new otherCopy.ZooKeeperUnavailableError('no answer within 1000 ms');
  expect(foreign).not.toBeInstanceOf(ZooKeeperUnavailableError);
  expect(isUnavailable(foreign)).toBe(true);
});
