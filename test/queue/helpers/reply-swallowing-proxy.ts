// A TCP proxy on 127.0.0.1 in front of one ZooKeeper server that can swallow its replies: requests still reach the server, answers never come back.

import net from 'node:net';

/**
 * Forwards every connection to `target`. After {@link swallowReplies}, the connections open at
 * that moment keep carrying the client's requests to the server, which runs them, but the
 * server's replies are dropped: the client sees a reply lost after its write was applied, the
 * case a protected create exists for. Connections opened later forward both ways again.
 */
export class ReplySwallowingProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket; swallow: boolean }>();
  /** Connections accepted so far. */
  connections = 0;

  private constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts a proxy in front of 127.0.0.1:`targetPort` on a free loopback port. */
  static async start(targetPort: number): Promise<ReplySwallowingProxy> {
    const proxy = new ReplySwallowingProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The proxy's connect string. */
  get connect(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** From now on, drops the server's replies on every connection open now. */
  swallowReplies(): void {
    for (const pair of this.pairs) pair.swallow = true;
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.connections++;
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    const pair = { client, upstream, swallow: false };
    this.pairs.add(pair);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!pair.swallow) client.write(chunk);
    });
    const end = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}
