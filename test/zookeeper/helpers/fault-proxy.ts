// A TCP proxy on 127.0.0.1 in front of one ZooKeeper server that injects faults: down, refused, replies swallowed, a slow or missing handshake, or back answering a health check and then silent or slow.

import net from 'node:net';

/** ZooKeeper's op code of getData: a stalling connection falls silent at the first reply to one. */
const GET_DATA = 4;
/** ZooKeeper's op code of setData. */
const SET_DATA = 5;

/**
 * Forwards connections to a ZooKeeper server, with faults to switch on:
 * - {@link down}: every connection is cut, and new ones are cut at once (the client sees the
 *   server gone and keeps trying);
 * - {@link refuse}: every connection is cut, and new ones are refused (nothing listens, as when
 *   the server is stopped), until {@link listenAgain};
 * - {@link stall}: new connections complete the handshake and are answered (setWatches, a health
 *   check's `exists`) until the first `getData`, such as a decision's read of its bucket: from
 *   that reply on, nothing is answered (ZooKeeper answers in order, so a server that stops
 *   answering one call answers none after it).
 * - {@link swallowReplies}: the connections open now keep carrying requests to the server, which
 *   runs them, but get no reply back (a reply lost after its write was applied);
 * - {@link cutAtWriteReply}: the next `setData` under a path prefix runs on the server, and its
 *   connection is cut instead of carrying the reply (the client sees a connection loss, its write applied);
 * - {@link slow}: like stall, but from the first `getData` reply on every reply comes late
 *   instead of never: a server that answers, slowly.
 * - {@link slowHandshake}: new connections get the handshake's reply late, or never: a server
 *   that accepts the connection and then takes its time (or is paused) before it answers.
 * It reads ZooKeeper's framing (4-byte length, then xid and op code) to match replies to requests.
 */
export class FaultProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** The connections forwarded now, each with its own switch for {@link swallowReplies}. */
  private readonly open = new Set<{ swallowing: boolean }>();
  /** Set by {@link cutAtWriteReply}: the path prefix of the next `setData` whose reply cuts its connection instead. */
  private cutAtWriteUnder: string | undefined;
  /** `setData` calls whose connection {@link cutAtWriteReply} cut, their writes applied. */
  writesCut = 0;
  private mode: 'forward' | 'down' | 'stall' | 'slow' | 'slow-handshake' = 'forward';
  private delayMs = 0;
  /** Connections accepted and forwarded (not cut at once). */
  forwarded = 0;

  private constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts a proxy in front of 127.0.0.1:`targetPort` on a free loopback port. */
  static async start(targetPort: number): Promise<FaultProxy> {
    const proxy = new FaultProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** The proxy's port (kept while it refuses connections). */
  private port = 0;

  /** Starts a proxy in front of the first server of `connect` (a `host:port,...` string on 127.0.0.1). */
  static inFrontOf(connect: string): Promise<FaultProxy> {
    return FaultProxy.start(Number(connect.split(',')[0]?.split(':')[1]));
  }

  /** The proxy's connect string. */
  get connect(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Cuts every connection, and every new one at once. */
  down(): void {
    this.mode = 'down';
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * From now on, drops every reply on the connections open now, while their requests still reach
   * the server, which runs them: the client sees a reply lost after its write was applied.
   * Connections opened later forward both ways.
   */
  swallowReplies(): void {
    for (const connection of this.open) connection.swallowing = true;
  }

  /**
   * The next `setData` on a path starting with `prefix` (on any connection) is run by the server,
   * and its reply is not delivered: its connection is cut instead. The client sees a connection
   * loss after its write was applied. Then everything forwards as before.
   */
  cutAtWriteReply(prefix: string): void {
    this.cutAtWriteUnder = prefix;
  }

  /** Cuts every connection and stops listening: new connections are refused until {@link listenAgain}. */
  async refuse(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port after {@link refuse}, forwarding new connections both ways. */
  async listenAgain(): Promise<void> {
    this.mode = 'forward';
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  /** Forwards new connections both ways again. */
  forward(): void {
    this.mode = 'forward';
  }

  /** Accepts connections again; each falls silent at its first `getData` reply. */
  stall(): void {
    this.mode = 'stall';
  }

  /** Accepts connections again; on each, from its first `getData` reply on, every reply comes `delayMs` late (in order). */
  slow(delayMs: number): void {
    this.mode = 'slow';
    this.delayMs = delayMs;
  }

  /**
   * Accepts connections again; on each, the handshake's reply comes `delayMs` late (never, with
   * `Infinity`), and everything after it at once.
   */
  slowHandshake(delayMs: number): void {
    this.mode = 'slow-handshake';
    this.delayMs = delayMs;
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'down') {
      client.destroy();
      return;
    }
    this.forwarded++;
    const stalling = this.mode === 'stall';
    const slowing = this.mode === 'slow';
    const delayMs = this.delayMs;
    const handshakeDelayMs = this.mode === 'slow-handshake' ? delayMs : 0;
    let slowSince = false;
    const connection = { swallowing: false };
    this.open.add(connection);
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    const opOf = new Map<number, number>();
    /** The xid of the `setData` whose reply cuts this connection ({@link cutAtWriteReply}). */
    let cutAtXid: number | undefined;
    let requests = 0;
    let replies = 0;
    let silent = false;
    frames(client, (frame) => {
      // The first request is the handshake (no xid); then xid at 4, op code at 8.
      if (requests++ > 0 && frame.length >= 12) {
        const xid = frame.readInt32BE(4);
        const op = frame.readInt32BE(8);
        opOf.set(xid, op);
        // setData: the path (4-byte length, then its bytes) follows the header.
        if (op === SET_DATA && this.cutAtWriteUnder !== undefined && frame.length >= 16) {
          const path = frame.subarray(16, 16 + frame.readInt32BE(12)).toString('utf8');
          if (path.startsWith(this.cutAtWriteUnder)) {
            this.cutAtWriteUnder = undefined;
            cutAtXid = xid;
          }
        }
      }
      upstream.write(frame);
    });
    frames(upstream, (frame) => {
      if (cutAtXid !== undefined && frame.length >= 8 && frame.readInt32BE(4) === cutAtXid) {
        this.writesCut++;
        end();
        return;
      }
      // The client sends nothing more until it has the handshake's reply: nothing can overtake it.
      if (replies === 0 && handshakeDelayMs > 0) {
        replies++;
        if (Number.isFinite(handshakeDelayMs)) setTimeout(() => client.writable && client.write(frame), handshakeDelayMs);
        return;
      }
      // The first reply is the handshake's; then xid at 4.
      if (replies++ > 0 && (stalling || slowing) && frame.length >= 8) {
        const xid = frame.readInt32BE(4);
        const isGetData = opOf.get(xid) === GET_DATA;
        silent ||= stalling && isGetData;
        slowSince ||= slowing && isGetData;
        opOf.delete(xid);
      }
      if (silent || connection.swallowing) return;
      // Delayed by the same amount each, so they keep their order.
      if (slowSince) setTimeout(() => client.writable && client.write(frame), delayMs);
      else client.write(frame);
    });
    const end = (): void => {
      this.open.delete(connection);
      this.sockets.delete(client);
      this.sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}

/** Calls `onFrame` with each whole length-prefixed frame (length included) read from `socket`. */
function frames(socket: net.Socket, onFrame: (frame: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = 4 + pending.readInt32BE(0);
      if (pending.length < size) break;
      onFrame(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
  });
}
