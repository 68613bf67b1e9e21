// Learns ZooKeeper's clock from a node: rewritten with its data unchanged, its new mtime is the server's time now.

import { statTime } from '../stores/zookeeper/server-clock.js';
import { ZkCode, zkCode } from '../stores/zookeeper/zookeeper-session.js';
import { refusedAs } from './cli-errors.js';
import type { ClusterConnection } from './cluster-connection.js';

/**
 * Rewrites the node at `path` with its data unchanged (version-checked) and returns the mtime of
 * that write: ZooKeeper's clock at about the moment the reply came (the CLI's host clock may be
 * off). `undefined` when the node is missing or was rewritten by someone else meanwhile. Exit 5
 * (through {@link refusedAs}) when the credential may not write it.
 */
export async function writtenMtime(cluster: ClusterConnection, path: string): Promise<number | undefined> {
  try {
    const { data, stat } = await cluster.session.getData(path);
    const written = await refusedAs(`to write ${path}`, cluster.options.auth !== undefined, () => cluster.session.setData(path, data ?? Buffer.alloc(0), stat.version));
    return statTime(written.mtime);
  } catch (error) {
    const code = zkCode(error);
    if (code === ZkCode.BAD_VERSION || code === ZkCode.NO_NODE) return undefined;
    throw error;
  }
}
