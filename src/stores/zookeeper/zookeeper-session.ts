// Owns the ZooKeeper connection: connect, liveness probing, failover, session expiry, and timed calls.

import { EventEmitter } from 'node:events';
import zookeeper from 'node-zookeeper-client';
import type { ACL, Client, Stat } from 'node-zookeeper-client';
import { FlowgateError } from '../../errors.js';

/** Error codes of ZooKeeper replies that callers branch on. */
export const ZkCode = {
  CONNECTION_LOSS: -4,
  OPERATION_TIMEOUT: -7,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  SESSION_MOVED: -118,
} as const;

/**
 * ZooKeeper did not answer in time, or there was no connection to ask: `store.ready()` rejects with
 * it when no server answers within its time, and so do a `DistributedQueue`'s calls. Code
 * `ERR_FLOWGATE_ZK_UNAVAILABLE`.
 */
export class ZooKeeperUnavailableError extends FlowgateError {
  constructor(message: string) {
    super('ERR_FLOWGATE_ZK_UNAVAILABLE', message);
  }
}

/** The numeric ZooKeeper error code of `error`, if it has one. */
export function zkCode(error: unknown): number | undefined {
  const code = (error as { getCode?: () => number } | null)?.getCode?.();
  return typeof code === 'number' ? code : undefined;
}

/** A short name for a failed call's error: ZooKeeper's code name (`BAD_VERSION`, ...) or `other`. */
function errorName(error: unknown): string {
  const code = zkCode(error);
  if (code === undefined) return 'other';
  const known = Object.entries(ZkCode).find(([, value]) => value === code);
  return known === undefined ? `code_${code}` : known[0];
}

/**
 * Whether `error` means "ZooKeeper could not be reached", as opposed to a logical answer: the
 * errors Apache Curator's retry loop retries (a lost connection or session, an operation timeout,
 * and a session that moved to another server while the call was on its way).
 */
export function isUnavailable(error: unknown): boolean {
  // By its code, not its class: an error from the other copy of the package (CommonJS and ESM) counts too.
  if ((error as { code?: unknown } | null)?.code === 'ERR_FLOWGATE_ZK_UNAVAILABLE') return true;
  const code = zkCode(error);
  return code === ZkCode.CONNECTION_LOSS || code === ZkCode.SESSION_EXPIRED || code === ZkCode.OPERATION_TIMEOUT || code === ZkCode.SESSION_MOVED;
}

/** The index of the op that made a {@link ZooKeeperSession.transaction} fail, when ZooKeeper told it. */
export function failedOpIndex(error: unknown): number | undefined {
  const index = (error as { opIndex?: unknown } | null)?.opIndex;
  return typeof index === 'number' ? index : undefined;
}

/** Options of {@link ZooKeeperSession}. */
export interface ZooKeeperSessionOptions {
  /** Connection string: `host:port,host:port[/chroot]`. */
  readonly connect: string;
  /** Requested session timeout in ms (the server clamps it to [2, 20] × tickTime). */
  readonly sessionTimeoutMs: number;
  /** The longest any call may take before it fails as unavailable. */
  readonly callTimeoutMs: number;
  /** Digest credential `user:password`, added to every connection. */
  readonly digest?: string;
}

/**
 * One operation of a {@link ZooKeeperSession.transaction}. A version of -1 is any version; 0 is
 * version 0 (which node-zookeeper-client's own transaction builder would take for -1).
 */
export type TransactionOp =
  | { readonly op: 'create'; readonly path: string; readonly data: Buffer; readonly mode: number; readonly acls?: ACL[] }
  | { readonly op: 'remove'; readonly path: string; readonly version: number }
  | { readonly op: 'setData'; readonly path: string; readonly data: Buffer; readonly version: number }
  | { readonly op: 'check'; readonly path: string; readonly version: number };

/** One op's result in a {@link ZooKeeperSession.transaction}: the path a create made. */
export interface TransactionResult {
  readonly path?: string;
}

/** A connection state as the rest of flowgate sees it. */
export type SessionState = 'connecting' | 'connected' | 'suspended' | 'closed';

/**
 * The one place that touches node-zookeeper-client's connection. It
 * - probes the server every `sessionTimeout / 3` with a cheap read, because the client has no read
 *   timeout: a server that stops answering is detected within about sessionTimeout/3 + callTimeout
 *   and the socket is dropped so that the client moves on to another server (same session);
 * - gives each connection attempt one deadline for its TCP connect and its handshake, the client's
 *   connect timeout (sessionTimeout / number of servers, as in ZooKeeper's Java client): the client
 *   itself stops timing an attempt once TCP is up, so a server that accepts the connection and
 *   never answers the handshake would hold it for ever;
 * - replaces the client when the session expires (the old one is closed for good) and emits
 *   `session` so that ephemeral nodes are created again;
 * - gives every call a timeout, so nothing waits for ever.
 *
 * Events: `state` (SessionState), `session` (a new session is connected: re-create ephemerals).
 */
export class ZooKeeperSession extends EventEmitter {
  private client: Client | undefined;
  private currentState: SessionState = 'connecting';
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private probing = false;
  private generation = 0;
  private sessionAnnounced = -1;

  constructor(private readonly options: ZooKeeperSessionOptions) {
    super();
  }

  /** The current connection state. */
  get state(): SessionState {
    return this.currentState;
  }

  /** Creates the client and starts connecting; returns at once. */
  start(): void {
    if (this.client !== undefined || this.currentState === 'closed') return;
    this.openClient();
    const period = Math.max(100, Math.floor(this.options.sessionTimeoutMs / 3));
    this.probeTimer = setInterval(() => void this.probe(), period);
    this.probeTimer.unref();
  }

  /** Resolves once connected, or rejects after `timeoutMs` (at once when the session is closed). */
  ready(timeoutMs: number): Promise<void> {
    if (this.currentState === 'connected') return Promise.resolve();
    if (this.currentState === 'closed') return Promise.reject(new ZooKeeperUnavailableError('flowgate: ZooKeeper session closed'));
    const connected = this.connectedOrClosed();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ZooKeeperUnavailableError(`flowgate: could not connect to ZooKeeper at ${this.options.connect} within ${timeoutMs} ms`));
      }, timeoutMs);
      connected.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * Settles when the session is next connected (resolves) or closed (rejects): one 'state' listener
   * shared by every caller of {@link ready}, however many wait (many calls waiting out an outage).
   */
  private connectedOrClosed(): Promise<void> {
    this.nextConnection ??= new Promise<void>((resolve, reject) => {
      const onState = (state: SessionState): void => {
        if (state !== 'connected' && state !== 'closed') return;
        this.off('state', onState);
        this.nextConnection = undefined;
        if (state === 'connected') resolve();
        else reject(new ZooKeeperUnavailableError('flowgate: ZooKeeper session closed'));
      };
      this.on('state', onState);
    });
    return this.nextConnection;
  }

  /** The wait of {@link connectedOrClosed} under way. */
  private nextConnection: Promise<void> | undefined;

  /**
   * Drops the connection a call sent at `sentAt` (performance.now()) went out on, if it is still
   * the current one: its calls sent and unanswered fail, so none of them can still run later
   * (calls the client held unsent while disconnected go out first on the next connection, before
   * any made after).
   * Then waits until the client is connected, same session. For recovery after an ambiguous
   * failure. A connection made since, or an attempt under way, is left be: cutting it would only
   * send the session back to the server that failed.
   */
  async reconnect(timeoutMs: number, sentAt: number): Promise<void> {
    const client = this.client;
    if (client === undefined || this.currentState === 'closed') return;
    const sameConnection = this.currentState === 'connected' && this.connectedAt !== undefined && this.connectedAt <= sentAt;
    // Callers that lost replies on the same connection share one drop.
    if (this.reconnecting === undefined && sameConnection) {
      this.setState('suspended');
      dropSocket(client);
      this.reconnecting = this.ready(timeoutMs).finally(() => (this.reconnecting = undefined));
    }
    await (this.reconnecting ?? this.ready(timeoutMs));
  }

  /** The reconnection started by {@link reconnect}, while it is under way. */
  private reconnecting: Promise<void> | undefined;

  /**
   * When (performance.now()) the current connection's handshake was answered; undefined while
   * there is no connection. A call sent before it went out on no socket (the client held it until
   * the handshake): its timeout says nothing of this connection.
   */
  private connectedAt: number | undefined;
  /** Whether connection attempts have their own deadline ({@link timeHandshakes}); if not, the probe cuts them. */
  private handshakesTimed = false;

  /** Closes the session: ephemeral nodes go away at once. Idempotent. */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    const client = this.client;
    const connected = this.currentState === 'connected';
    this.client = undefined;
    this.setState('closed');
    if (client === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 1000);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      client.once('disconnected', done);
      const closing = closeQuietly(client);
      // Not connected (a handshake may be under way, or its socket not even made yet): the client,
      // closing, would read the handshake's reply as an answer and throw from its socket handler (an
      // uncaught exception). Abandon the connection: nothing more is read, and the closing client
      // does not reconnect (so no wait either).
      if (!connected) abandonConnection(client);
      if (!connected || !closing) done();
    });
    // Again: a socket made on the next tick exists by now (and its connect timer with it), or, when
    // close() ran inside a promise job, once the ticks queued meanwhile have run.
    if (connected) dropSocket(client);
    else {
      abandonConnection(client);
      setImmediate(() => abandonConnection(client));
    }
  }

  /**
   * Counts the sessions (clients) made so far: it grows the moment a session is found expired, and
   * a call made now goes out on the session of this number. An ephemeral node created in an
   * earlier one is gone.
   */
  get sessionNumber(): number {
    return this.generation;
  }

  /** The ZooKeeper session id (hex), when connected. */
  sessionId(): string | undefined {
    return this.client?.getSessionId().toString('hex');
  }

  getData(path: string, watcher?: (event: unknown) => void): Promise<{ data: Buffer | undefined; stat: Stat }> {
    return this.call<{ data: Buffer | undefined; stat: Stat }>(`getData ${path}`, (client, done) => {
      const cb = (error: unknown, data: Buffer, stat: Stat): void => done(error, { data, stat });
      if (watcher) client.getData(path, watcher, cb);
      else client.getData(path, cb);
    });
  }

  setData(path: string, data: Buffer, version: number): Promise<Stat> {
    return this.call<Stat>(`setData ${path}`, (client, done) => client.setData(path, data, version, done));
  }

  create(path: string, data: Buffer, mode: number, acls?: ACL[]): Promise<string> {
    return this.call<string>(`create ${path}`, (client, done) => {
      if (acls) client.create(path, data, acls, mode, done);
      else client.create(path, data, mode, done);
    });
  }

  mkdirp(path: string, acls?: ACL[]): Promise<string> {
    return this.call<string>(`mkdirp ${path}`, (client, done) => {
      if (acls) client.mkdirp(path, acls, done);
      else client.mkdirp(path, done);
    });
  }

  remove(path: string, version: number): Promise<void> {
    return this.call<void>(`remove ${path}`, (client, done) => client.remove(path, version, done));
  }

  exists(path: string, watcher?: (event: unknown) => void): Promise<Stat | null> {
    return this.call<Stat | null>(`exists ${path}`, (client, done) => {
      if (watcher) client.exists(path, watcher, done);
      else client.exists(path, done);
    });
  }

  getChildren(path: string, watcher?: (event: unknown) => void): Promise<string[]> {
    return this.call<string[]>(`getChildren ${path}`, (client, done) => {
      if (watcher) client.getChildren(path, watcher, done);
      else client.getChildren(path, done);
    });
  }

  /**
   * Runs `ops` atomically (ZooKeeper multi); rejects with the first failing op's error, which
   * carries that op's index in `ops` (read it with {@link failedOpIndex}). Resolves with one result
   * per op: a create's carries the path made (with its sequence).
   */
  transaction(ops: readonly TransactionOp[]): Promise<TransactionResult[]> {
    return this.call<TransactionResult[]>(`multi of ${ops.length}`, (client, done) => {
      const tx = client.transaction();
      for (const op of ops) {
        if (op.op === 'create') {
          if (op.acls) tx.create(op.path, op.data, op.acls, op.mode);
          else tx.create(op.path, op.data, op.mode);
        } else if (op.op === 'remove') tx.remove(op.path, op.version);
        else if (op.op === 'check') tx.check(op.path, op.version);
        else tx.setData(op.path, op.data, op.version);
      }
      // The client's builder turns a version of 0 into -1 (`version || -1`): set the versions as given.
      const built = (tx as unknown as { ops?: Array<{ version?: number }> }).ops;
      if (Array.isArray(built) && built.length === ops.length) {
        ops.forEach((op, i) => {
          if (op.op !== 'create') (built[i] as { version?: number }).version = op.version;
        });
      }
      tx.commit((error: unknown, results?: Array<{ type?: number; err?: number; path?: string }>) => {
        if (error && typeof error === 'object' && Array.isArray(results)) {
          const index = results.findIndex((result) => result.err !== undefined && result.err !== 0);
          if (index >= 0) (error as { opIndex?: number }).opIndex = index;
        }
        done(error, (results ?? []).map((result) => (result.path === undefined ? {} : { path: result.path })));
      });
    });
  }

  /** When (performance.now()) the server last answered a call, with a result or a ZooKeeper error; 0 before the first. */
  lastReplyAt = 0;

  /** Calls made, by operation (`getData`, `setData`, `create`, ...), since the session object was made. */
  readonly operations: Record<string, number> = {};
  /** Calls failed, by kind (`timeout`, `closed`, or ZooKeeper's error name such as `BAD_VERSION`, `CONNECTION_LOSS`). */
  readonly errors: Record<string, number> = {};

  /** Runs one client call with the call timeout; fails fast when the session is closed. */
  private call<T>(what: string, run: (client: Client, done: (error: unknown, result?: T) => void) => void): Promise<T> {
    const op = what.slice(0, what.indexOf(' ') >>> 0);
    this.operations[op] = (this.operations[op] ?? 0) + 1;
    const client = this.client;
    if (client === undefined || this.currentState === 'closed') {
      this.countError('closed');
      return Promise.reject(new ZooKeeperUnavailableError(`flowgate: ZooKeeper session is closed (${what})`));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.countError('timeout');
        reject(new ZooKeeperUnavailableError(`flowgate: ZooKeeper did not answer ${what} within ${this.options.callTimeoutMs} ms`));
      }, this.options.callTimeoutMs);
      try {
        run(client, (error, result) => {
          // Any answer of the server, even one after the call timed out, shows it is answering.
          if (!error || (zkCode(error) !== undefined && !isUnavailable(error))) this.lastReplyAt = performance.now();
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (error) {
            this.countError(errorName(error));
            reject(error);
          } else resolve(result as T);
        });
      } catch (error) {
        settled = true;
        clearTimeout(timer);
        this.countError(errorName(error));
        reject(error);
      }
    });
  }

  private countError(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  private openClient(): void {
    const generation = ++this.generation;
    const client = zookeeper.createClient(this.options.connect, {
      sessionTimeout: this.options.sessionTimeoutMs,
      spinDelay: 100,
      retries: 0,
    });
    if (this.options.digest !== undefined) client.addAuthInfo('digest', Buffer.from(this.options.digest));
    this.handshakesTimed = timeHandshakes(client);
    client.on('connected', () => {
      if (generation !== this.generation) return;
      this.connectedAt = performance.now();
      this.setState('connected');
      if (this.sessionAnnounced !== generation) {
        this.sessionAnnounced = generation;
        this.emit('session');
      }
    });
    client.on('disconnected', () => {
      if (generation !== this.generation) return;
      this.connectedAt = undefined;
      if (this.currentState !== 'closed') this.setState('suspended');
    });
    client.on('expired', () => {
      if (generation !== this.generation || this.currentState === 'closed') return;
      // An expired client is closed for good: start a new session with a new client.
      this.connectedAt = undefined;
      this.setState('suspended');
      closeQuietly(client);
      dropSocket(client);
      this.openClient();
    });
    this.client = client;
    client.connect();
  }

  /**
   * A cheap read with the call timeout; a silent server gets its socket dropped. Only a read sent
   * on an established connection counts: while a connection attempt is under way, its own
   * deadline (see {@link timeHandshakes}) decides, and a read queued meanwhile was never sent.
   */
  private async probe(): Promise<void> {
    if (this.probing || this.client === undefined || this.currentState === 'closed') return;
    this.probing = true;
    const client = this.client;
    const sentAt = performance.now();
    try {
      await this.exists('/');
      if (!this.isClosed() && client === this.client) this.setState('connected');
    } catch (error) {
      const sentOnThisConnection = this.connectedAt !== undefined && this.connectedAt <= sentAt;
      if (client === this.client && !this.isClosed() && error instanceof ZooKeeperUnavailableError && (sentOnThisConnection || !this.handshakesTimed)) {
        this.setState('suspended');
        // The server stopped answering without closing the socket: move on to the next one.
        dropSocket(client);
      }
    } finally {
      this.probing = false;
    }
  }

  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  private setState(state: SessionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }
}

/**
 * Closes `client`; false when it threw. Closing between connection attempts (no socket: every
 * server unreachable), the client throws as it tries to send its close request: there is no
 * connection to close then.
 */
function closeQuietly(client: Client): boolean {
  try {
    client.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a closing client that never finished its handshake read nothing more: its socket is
 * dropped, and a socket it has yet to make (node-zookeeper-client makes it on the next tick) reads
 * nothing and is dropped once connected. Its handlers are bound when the socket is made, so
 * own-property overrides set now are the ones that socket gets.
 */
function abandonConnection(client: Client): void {
  type Manager = { socket?: { destroy(): void }; connectTimeoutHandler?: NodeJS.Timeout; connectTimeout?: number; onSocketData?: unknown; onSocketConnected?: unknown };
  const manager = (client as unknown as { connectionManager?: Manager }).connectionManager;
  if (manager === undefined) return;
  manager.onSocketData = () => undefined;
  // The connect timer (as long as the session timeout) would keep the process alive.
  manager.onSocketConnected = function (this: Manager) {
    clearTimeout(this.connectTimeoutHandler);
    this.socket?.destroy();
  };
  clearTimeout(manager.connectTimeoutHandler);
  // A socket it makes later, between attempts, whose TCP connect never completes: its connect
  // timer cuts it at once (see timeHandshakes), instead of it keeping the process alive.
  manager.connectTimeout = 0;
  manager.socket?.destroy();
}

/** The parts of node-zookeeper-client's connection manager that {@link timeHandshakes} wraps. */
interface ConnectionManagerInternals {
  state: number;
  socket?: { destroy(): void };
  connectTimeoutHandler?: NodeJS.Timeout | null;
  packetQueue?: { queue: QueuedPacket[] };
  onSocketConnected(): void;
  onSocketConnectTimeout(): void;
  onSocketClosed(hasError: boolean): void;
}

/** node-zookeeper-client's states of a connection manager with an answered handshake. */
const MANAGER_CONNECTED = 2;
const MANAGER_CONNECTED_READ_ONLY = 3;

/** A packet in node-zookeeper-client's send queue. */
interface QueuedPacket {
  readonly request: { readonly header: { readonly type: number } | null };
}

/** ZooKeeper's op codes of the packets a connection starts with: the credential, and the watches to set again. */
const AUTH = 100;
const SET_WATCHES = 101;

/** Whether `packet` is one a connection queues for itself when it starts (see {@link timeHandshakes}). */
function isConnectionSetUp(packet: QueuedPacket): boolean {
  const type = packet.request.header?.type;
  return type === AUTH || type === SET_WATCHES;
}

/**
 * Keeps the client's connect timer (sessionTimeout / number of servers) running from the socket's
 * creation until the handshake's reply, instead of stopping it once TCP is up: an attempt whose
 * handshake is not answered in that time has its socket dropped, and the client tries the next
 * server (same session). A handshake that takes long but within that time is waited for. Each
 * attempt's timer ends with its socket, so it never drops a later attempt's socket. The handlers
 * are bound when each socket is made, so own-property wrappers set now are the ones every socket
 * gets.
 */
function timeHandshakes(client: Client): boolean {
  const manager = (client as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager;
  if (manager === undefined) return false;
  const proto = Object.getPrototypeOf(manager) as Partial<ConnectionManagerInternals>;
  const { onSocketConnected, onSocketClosed } = proto;
  // Another version of the client, made differently: leave it as it is (the probe times attempts then).
  if (typeof onSocketConnected !== 'function' || typeof onSocketClosed !== 'function' || typeof proto.onSocketConnectTimeout !== 'function') return false;
  manager.onSocketConnected = function (this: ConnectionManagerInternals) {
    const deadline = this.connectTimeoutHandler;
    // The original clears the timer it finds: hide it, then put it back for the handshake.
    this.connectTimeoutHandler = null;
    // The original queues the credential and the watches to set again behind the calls queued
    // while disconnected, which the server would then run without the credential (NO_AUTH). Those
    // of earlier attempts (never sent) are dropped, and this attempt's go first.
    const queue = this.packetQueue?.queue ?? [];
    let calls = 0;
    for (const packet of queue) if (!isConnectionSetUp(packet)) queue[calls++] = packet;
    queue.length = calls;
    onSocketConnected.call(this);
    // At most a credential and a watch packet: spread safely.
    queue.unshift(...queue.splice(calls));
    if (this.connectTimeoutHandler === null) this.connectTimeoutHandler = deadline;
    else clearTimeout(deadline ?? undefined);
  };
  manager.onSocketConnectTimeout = function (this: ConnectionManagerInternals) {
    this.connectTimeoutHandler = null;
    // Also after close(): a socket the client made before it saw the close is cut.
    if (this.state !== MANAGER_CONNECTED && this.state !== MANAGER_CONNECTED_READ_ONLY) this.socket?.destroy();
  };
  manager.onSocketClosed = function (this: ConnectionManagerInternals, hasError: boolean) {
    clearTimeout(this.connectTimeoutHandler ?? undefined);
    this.connectTimeoutHandler = null;
    onSocketClosed.call(this, hasError);
  };
  client.on('connected', () => {
    clearTimeout(manager.connectTimeoutHandler ?? undefined);
    manager.connectTimeoutHandler = null;
  });
  return true;
}

/** Destroys the client's socket (an internal of node-zookeeper-client) so that it reconnects elsewhere. */
function dropSocket(client: Client): void {
  const manager = (client as unknown as { connectionManager?: { socket?: { destroy(): void } } }).connectionManager;
  manager?.socket?.destroy();
}
