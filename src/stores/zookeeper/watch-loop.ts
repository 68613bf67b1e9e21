// One ZooKeeper watch per followed thing, however many listeners, re-armed after it fires, after a failed read and after a new session.

interface Watched<V> {
  readonly read: (fired: () => void) => Promise<V>;
  readonly listeners: Set<(value: V) => void>;
  /** The value last delivered (undefined: nothing delivered yet). */
  last: { readonly value: V } | undefined;
  /** Bumped on every arm: a watcher from an older arm is stale and does nothing when it fires. */
  generation: number;
  retry: ReturnType<typeof setTimeout> | undefined;
}

/** How a {@link WatchLoop} delivers. */
export interface WatchLoopOptions<V> {
  /** How long to wait before reading again after a failed read (ms). */
  readonly retryMs: number;
  /** When given, a value equal to the last delivered one is not delivered again. */
  readonly same?: (a: V, b: V) => boolean;
  /** Whether a listener that joins an armed watch hears the last value at once. */
  readonly replayLast?: boolean;
}

/**
 * Follows things by id (a znode, a policy name): the first listener of an id arms a watch through
 * its `read(fired)` (a ZooKeeper read that sets a watch calling `fired`), which reads again each
 * time the watch fires, after a failed read (every `retryMs`) and on {@link rearm} (a new session
 * has none of the old one's watches). Each read's value goes to the id's listeners.
 */
export class WatchLoop<V> {
  private readonly watched = new Map<string, Watched<V>>();
  private closed = false;

  constructor(private readonly options: WatchLoopOptions<V>) {}

  /** Starts following `id` for `listener` (reading with `read` when nobody follows it yet); returns a function that stops it. */
  watch(id: string, read: (fired: () => void) => Promise<V>, listener: (value: V) => void): () => void {
    let entry = this.watched.get(id);
    if (entry === undefined) {
      entry = { read, listeners: new Set(), last: undefined, generation: 0, retry: undefined };
      this.watched.set(id, entry);
      void this.arm(id, entry);
    } else if (this.options.replayLast === true && entry.last !== undefined) {
      const known = entry.last.value;
      queueMicrotask(() => listener(known));
    }
    entry.listeners.add(listener);
    const watched = entry;
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.watched.get(id) === watched) {
        this.watched.delete(id);
        watched.generation++;
        if (watched.retry !== undefined) clearTimeout(watched.retry);
      }
    };
  }

  /** Hands `value` to the listeners of `id` now (a change this process made), without waiting for the watch. */
  deliver(id: string, value: V): void {
    const entry = this.watched.get(id);
    if (entry !== undefined) this.hand(entry, value);
  }

  /** The value last delivered to the listeners of `id` (undefined: not followed, or nothing delivered yet). */
  last(id: string): { readonly value: V } | undefined {
    return this.watched.get(id)?.last;
  }

  /** Arms every watch again: a new session has none of the old one's. */
  rearm(): void {
    for (const [id, entry] of this.watched) void this.arm(id, entry);
  }

  /** Whether `id` is followed. */
  has(id: string): boolean {
    return this.watched.has(id);
  }

  /** The number of ids followed. */
  get size(): number {
    return this.watched.size;
  }

  close(): void {
    this.closed = true;
    for (const entry of this.watched.values()) {
      entry.generation++;
      if (entry.retry !== undefined) clearTimeout(entry.retry);
    }
    this.watched.clear();
  }

  private async arm(id: string, entry: Watched<V>): Promise<void> {
    if (this.closed || this.watched.get(id) !== entry) return;
    const generation = ++entry.generation;
    if (entry.retry !== undefined) clearTimeout(entry.retry);
    entry.retry = undefined;
    const fired = (): void => {
      if (entry.generation === generation) void this.arm(id, entry);
    };
    try {
      const value = await entry.read(fired);
      if (entry.generation !== generation) return;
      this.hand(entry, value);
    } catch {
      if (entry.generation !== generation || this.closed) return;
      entry.retry = setTimeout(() => void this.arm(id, entry), this.options.retryMs);
      entry.retry.unref();
    }
  }

  private hand(entry: Watched<V>, value: V): void {
    const { same } = this.options;
    if (same !== undefined && entry.last !== undefined && same(entry.last.value, value)) return;
    entry.last = { value };
    for (const listener of [...entry.listeners]) listener(value);
  }
}
