// A raw node-zookeeper-client with timeouts, to look at znodes from outside flowgate and to clean up roots.

import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';

const CALL_TIMEOUT_MS = 15_000;

export function codeOf(error: unknown): number | undefined {
  const code = (error as { getCode?: () => number } | null)?.getCode?.();
  return typeof code === 'number' ? code : undefined;
}

export class Zk {
  private constructor(private readonly client: Client) {}

  static async connect(connect: string): Promise<Zk> {
    const client = zookeeper.createClient(connect, { sessionTimeout: 6000, spinDelay: 100, retries: 0 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        reject(new Error(`raw client could not connect to ${connect}`));
      }, CALL_TIMEOUT_MS);
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    return new Zk(client);
  }

  close(): void {
    this.client.close();
  }

  getChildren(path: string): Promise<string[]> {
    return this.call((done) => this.client.getChildren(path, (e, children) => done(e, children)));
  }

  getData(path: string): Promise<{ data: Buffer; stat: Stat }> {
    return this.call((done) => this.client.getData(path, (e, data, stat) => done(e, { data, stat })));
  }

  /** The Stat of `path`, or null. */
  stat(path: string): Promise<Stat | null> {
    return this.call((done) => this.client.exists(path, (e, stat) => done(e, stat ?? null)));
  }

  remove(path: string): Promise<void> {
    return this.call((done) => this.client.remove(path, -1, (e) => done(e, undefined)));
  }

  /** Deletes `path` and everything under it (children in parallel batches); a missing node is fine. */
  async removeTree(path: string): Promise<void> {
    let children: string[];
    try {
      children = await this.getChildren(path);
    } catch (error) {
      if (codeOf(error) === -101) return;
      throw error;
    }
    for (let i = 0; i < children.length; i += 256) {
      await Promise.all(children.slice(i, i + 256).map((child) => this.removeTree(`${path}/${child}`)));
    }
    try {
      await this.remove(path);
    } catch (error) {
      if (codeOf(error) !== -101) throw error;
    }
  }

  private call<T>(run: (done: (error: unknown, result: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('raw ZooKeeper call timed out')), CALL_TIMEOUT_MS);
      run((error, result) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(result);
      });
    });
  }
}

/** Removes a test root, best effort (bounded by the call timeouts). */
export async function removeRoot(connect: string, root: string): Promise<void> {
  const zk = await Zk.connect(connect);
  try {
    await zk.removeTree(root);
  } finally {
    zk.close();
  }
}
