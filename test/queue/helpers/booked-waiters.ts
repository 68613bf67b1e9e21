// Reads how many waiters of the cluster-wide queue a bucket znode's book holds, for tests.

import { decodeBucket } from '../../../src/stores/zookeeper/bucket-codec.js';
import { ZnodePaths } from '../../../src/stores/zookeeper/znode-paths.js';
import { RawClient } from '../../zookeeper/helpers/raw-client.js';

/** Anything that reads a znode's data (a test's RawClient, or a ZooKeeperSession). */
export interface DataReader {
  getData(path: string): Promise<{ data?: Buffer }>;
}

/** Waiters in the book of the bucket znode at `path` now (0 when there is no such znode). */
export async function bookedWaiters(reader: DataReader, path: string): Promise<number> {
  let data: Buffer | undefined;
  try {
    ({ data } = await reader.getData(path));
  } catch {
    return 0;
  }
  return decodeBucket(data).book.entries.reduce((sum, entry) => sum + entry.count, 0);
}

/** What a test file of the cluster-wide queue reads the books with: a client of its own, opened before its tests and closed after. */
export interface BookReader {
  /** The raw client (open while the file's tests run). */
  readonly raw: RawClient;
  /** Waiters in the shared book of `key` of limit `name` now (0 when the bucket has no znode). */
  bookedWaiters(name: string, key: string): Promise<number>;
  /** The path of the bucket znode of `key` of limit `name`. */
  bucket(name: string, key: string): string;
}

/** Opens a raw client on `zk` for the calling test file (beforeAll/afterAll) to read bucket books under its root. */
export function bookReader(zk: { readonly connect: string; readonly root: string }): BookReader {
  const paths = new ZnodePaths(zk.root);
  let raw: RawClient | undefined;
  beforeAll(async () => {
    raw = await RawClient.connect(zk.connect);
  });
  afterAll(() => raw?.close());
  const client = (): RawClient => {
    if (raw === undefined) throw new Error('bookReader: used outside the tests of its file');
    return raw;
  };
  return {
    get raw() {
      return client();
    },
    bookedWaiters: (name, key) => bookedWaiters(client(), paths.bucket(name, key)),
    bucket: (name, key) => paths.bucket(name, key),
  };
}
