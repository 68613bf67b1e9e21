// A raw node-zookeeper-client, promisified with timeouts: to inspect and poke znodes from outside flowgate.

import zookeeper, { type ACL, type Client, type Stat } from 'node-zookeeper-client';

const CALL_TIMEOUT_MS = 10_000;

/** The numeric ZooKeeper error code of an error, if any (e.g. -102 NO_AUTH). */
export function codeOf(error: unknown): number | undefined {
  const code = (error as { getCode?: () => number } | null)?.getCode?.();
  return typeof code === 'number' ? code : undefined;
}

export class RawClient {
  private constructor(private readonly client: Client) {}

  /** Connects (optionally with a digest credential `user:password`); rejects after 10 s. */
  static async connect(connect: string, digest?: string): Promise<RawClient> {
    const client = zookeeper.createClient(connect, { sessionTimeout: 6000, spinDelay: 100, retries: 0 });
    if (digest !== undefined) client.addAuthInfo('digest', Buffer.from(digest));
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
    return new RawClient(client);
  }

  close(): void {
    this.client.close();
  }

  getChildren(path: string): Promise<string[]> {
    return this.call((done) => this.client.getChildren(path, (e, children) => done(e, children)));
  }

  async getData(path: string): Promise<{ data: Buffer; stat: Stat }> {
    return this.call((done) => this.client.getData(path, (e, data, stat) => done(e, { data, stat })));
  }

  setData(path: string, data: Buffer, version = -1): Promise<Stat> {
    return this.call((done) => this.client.setData(path, data, version, (e, stat) => done(e, stat)));
  }

  remove(path: string, version = -1): Promise<void> {
    return this.call((done) => this.client.remove(path, version, (e) => done(e, undefined)));
  }

  create(path: string, data: Buffer): Promise<string> {
    return this.call((done) => this.client.create(path, data, (e, p) => done(e, p)));
  }

  /** Creates a persistent node with these ACLs. */
  createWithAcls(path: string, data: Buffer, acls: ACL[]): Promise<string> {
    return this.call((done) => this.client.create(path, data, acls, zookeeper.CreateMode.PERSISTENT, (e, p) => done(e, p)));
  }

  /** Replaces the ACLs of `path` (any version). */
  setACL(path: string, acls: ACL[]): Promise<Stat> {
    return this.call((done) => this.client.setACL(path, acls, -1, (e, stat) => done(e, stat)));
  }

  getACL(path: string): Promise<ACL[]> {
    return this.call((done) => this.client.getACL(path, (e, acls) => done(e, acls)));
  }

  async exists(path: string): Promise<boolean> {
    return this.call((done) => this.client.exists(path, (e, stat) => done(e, stat !== null && stat !== undefined)));
  }

  /** Every znode path under `path` (excluded), depth first, children before their parent; nodes deleted meanwhile are skipped. */
  async descendants(path: string): Promise<string[]> {
    const out: string[] = [];
    let children: string[];
    try {
      children = await this.getChildren(path);
    } catch (error) {
      if (codeOf(error) === -101) return out;
      throw error;
    }
    for (const child of children) {
      const full = `${path}/${child}`;
      out.push(...(await this.descendants(full)), full);
    }
    return out;
  }

  /** Deletes `path` and everything under it (children in parallel batches); a node already gone is fine. */
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
    await this.remove(path).catch((error) => {
      if (codeOf(error) !== -101) throw error;
    });
  }

  /** The Stat of `path`, or null when it does not exist. */
  stat(path: string): Promise<Stat | null> {
    return this.call((done) => this.client.exists(path, (e, stat) => done(e, stat ?? null)));
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

/** Deletes a test root with a short-lived raw client (after a file's tests). */
export async function removeRoot(connect: string, root: string, digest?: string): Promise<void> {
  const raw = await RawClient.connect(connect, digest);
  try {
    await raw.removeTree(root);
  } finally {
    raw.close();
  }
}
